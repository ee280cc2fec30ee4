"""The report's errors per horizon step over a period, read from the daily per-horizon roll-up, equal the same
figures computed directly (pandas) from the validated forecasts of a random registry, for random periods,
tickers and versions: every column of the per-horizon table, interval coverage included."""
import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

from app.intervals import HORIZON_BUCKETS, horizon_bucket
from app.monitoring.performance import performance_report
from app.monitoring.prices import UploadedActualsSource
from app.monitoring.registry import ForecastRegistry
from app.monitoring.storage import forecasts
from app.monitoring.validation import validate_pending_forecasts

SEED = 20261203
RNG = np.random.default_rng(SEED)
TODAY = dt.date(2024, 6, 1)
TICKERS = ("MSFT", "AAPL", "SPX", "ASML.AS")
VERSIONS = {"champion": "v1", "challenger": "v2", "external": "external"}


def random_row(day, close, rng):
    """A forecast row: bounds of both levels, of one, or none; usually the drift forecast."""
    predicted = float(close * rng.normal(1, 0.03))
    half = float(close * rng.uniform(0.002, 0.05))
    row = {"date": day, "close": predicted}
    shape = rng.integers(0, 4)
    if shape != 0:
        row.update(lower_80=predicted - half, upper_80=predicted + half)
    if shape in (1, 2):
        row.update(lower_95=predicted - 1.7 * half, upper_95=predicted + 1.7 * half)
    if rng.random() < 0.8:
        row["drift"] = float(close * 1.0004)
    return row


def random_registry(reg, rng, days=90):
    """Answered, shadowed and externally registered forecasts of 1-30 steps, validated in three runs."""
    made_days = pd.bdate_range(end=TODAY - dt.timedelta(days=1), periods=days)
    for ticker in TICKERS:
        closes = pd.Series(100 * np.exp(np.cumsum(rng.normal(0, 0.015, days + 45))),
                           index=pd.bdate_range(made_days[0], periods=days + 45))
        reg.record_actuals(ticker, closes[closes.index < pd.Timestamp(TODAY)])
        for k, made in enumerate(made_days):
            for j in range(int(rng.integers(0, 3))):
                targets = pd.bdate_range(made + pd.Timedelta(days=1), periods=int(rng.integers(1, 31)))
                rows = [random_row(d.date(), closes.iloc[k], rng) for d in targets]
                last_close = None if rng.random() < 0.2 else float(closes.iloc[k])
                if rng.random() < 0.15:
                    reg.register_forecasts(ticker, made.date(), last_close, rows, VERSIONS["external"], None,
                                           f"x{ticker}{k}{j}", role="external")
                    continue
                shadows = [(VERSIONS["challenger"], [random_row(d.date(), closes.iloc[k], rng) for d in targets])] \
                    if rng.random() < 0.5 else []
                reg.register_forecasts(ticker, made.date(), last_close, rows, VERSIONS["champion"], None,
                                       f"{ticker}{k}{j}", shadows=shadows)
    for days_back in (15, 50, 400):  # later runs merge into roll-up rows the earlier ones made
        validate_pending_forecasts(reg, UploadedActualsSource(reg), days_back=days_back, today=TODAY)


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    reg = ForecastRegistry.at_path(str(tmp_path_factory.mktemp("horizon") / "forecasts.sqlite3"))
    random_registry(reg, np.random.default_rng(SEED + 1))
    with reg.engine.connect() as conn:
        frame = pd.DataFrame(conn.execute(select(forecasts).where(forecasts.c.status == "validated")).mappings())
    yield reg, frame
    reg.dispose()


def expected_by_horizon(frame: pd.DataFrame, since, until, ticker=None, model_version=None) -> list[dict]:
    """Each per-horizon row of the report, computed from the raw validated forecasts."""
    rows = frame[(frame.target_date >= since) & (frame.target_date <= until)]
    rows = rows[rows.role != "challenger"] if model_version is None else rows[rows.model_version == model_version]
    if ticker is not None:
        rows = rows[rows.ticker == ticker]
    out = []
    for step, g in rows.groupby("horizon_step"):
        naive, drift = g[g.naive_abs_error.notna()], g[g.drift_abs_error.notna()]
        naive_mae = naive.naive_abs_error.mean() if len(naive) else None
        drift_mae = drift.drift_abs_error.mean() if len(drift) else None
        checked = {key: g[f"inside_{key}"].dropna() for key in ("80", "95")}
        out.append({
            "horizon_step": int(step), "n": len(g), "mae": g.abs_error.mean(), "mape": g.ape.mean(),
            "rmse": math.sqrt((g.abs_error ** 2).mean()), "min_ape": g.ape.min(), "max_ape": g.ape.max(),
            "min_abs_error": g.abs_error.min(), "max_abs_error": g.abs_error.max(),
            "rmae": naive.abs_error.mean() / naive_mae if naive_mae else None,
            "naive_mae": naive_mae, "naive_mape": naive.naive_ape.mean() if len(naive) else None,
            "naive_rmse": math.sqrt((naive.naive_abs_error ** 2).mean()) if len(naive) else None,
            "rmae_vs_drift": drift.abs_error.mean() / drift_mae if drift_mae else None,
            "drift_mae": drift_mae, "drift_mape": drift.drift_ape.mean() if len(drift) else None,
            **{f"coverage_{key}": hits.mean() if len(hits) else None for key, hits in checked.items()},
            **{f"checked_{key}": len(hits) for key, hits in checked.items()},
        })
    return out


def expected_buckets(frame_rows: list[dict]) -> list[dict]:
    """Coverage per horizon bucket, from the expected per-horizon rows' counts."""
    cells = {label: {key: [0, 0.0] for key in ("80", "95")} for label, _, _ in HORIZON_BUCKETS}
    for row in frame_rows:
        for key in ("80", "95"):
            if row[f"checked_{key}"]:
                cells[horizon_bucket(row["horizon_step"])][key][0] += row[f"checked_{key}"]
                cells[horizon_bucket(row["horizon_step"])][key][1] += row[f"coverage_{key}"] * row[f"checked_{key}"]
    return [{"horizon_bucket": label, **{key: {"n": n, "coverage": hits / n if n else None}
                                         for key, (n, hits) in levels.items()}}
            for label, levels in cells.items()]


def assert_rows_equal(got: list[dict], want: list[dict]):
    assert [r["horizon_step"] for r in got] == [r["horizon_step"] for r in want]
    for g, w in zip(got, want, strict=True):
        assert g.keys() == w.keys(), set(g) ^ set(w)
        for key, value in w.items():
            if value is None or g[key] is None:
                assert g[key] is None and value is None, (g["horizon_step"], key, g[key], value)
            else:
                assert math.isclose(g[key], float(value), rel_tol=1e-9, abs_tol=1e-12), \
                    (g["horizon_step"], key, g[key], value)


def random_query(rng) -> dict:
    first = TODAY - dt.timedelta(days=int(rng.integers(1, 160)))
    last = min(first + dt.timedelta(days=int(rng.integers(0, 120))), TODAY - dt.timedelta(days=1))
    tickers, versions = (None, *TICKERS), (None, *VERSIONS.values())
    return {"period": (first, last), "ticker": tickers[rng.integers(len(tickers))],
            "model_version": versions[rng.integers(len(versions))]}


def test_the_period_figures_per_horizon_equal_a_direct_computation(registry):
    reg, frame = registry
    assert len(frame) > 3000 and frame.inside_80.isna().any() and frame.naive_abs_error.isna().any()
    queries = [{"period": (TODAY - dt.timedelta(days=200), TODAY)},  # everything, and one day
               {"period": (TODAY - dt.timedelta(days=3), TODAY - dt.timedelta(days=3))},
               *(random_query(RNG) for _ in range(25))]
    steps_seen = set()
    for query in queries:
        report = performance_report(reg, today=TODAY, window_days=14, **query)
        want = expected_by_horizon(frame, *query["period"], query.get("ticker"), query.get("model_version"))
        assert_rows_equal(report["by_horizon"], want)
        got_buckets, want_buckets = report["coverage"]["by_bucket"], expected_buckets(want)
        for g, w in zip(got_buckets, want_buckets, strict=True):
            for key in ("80", "95"):
                assert g[key]["n"] == w[key]["n"] and (g[key]["coverage"] is None) == (w[key]["coverage"] is None)
                assert g[key]["coverage"] is None or math.isclose(g[key]["coverage"], w[key]["coverage"])
        assert report["metrics"]["n"] == sum(row["n"] for row in want)
        steps_seen.update(row["horizon_step"] for row in want)
    assert steps_seen == set(range(1, 31))
