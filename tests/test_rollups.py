"""Roll-ups and retention: the report read from roll-ups equals a scan of the raw forecasts, and pruning old
forecasts changes none of the figures of the days kept."""
import datetime as dt
import math
import multiprocessing

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

from app.monitoring import rollups
from app.monitoring.measures import MEASURES, over_rows
from app.monitoring.performance import performance_report
from app.monitoring.prices import UploadedActualsSource
from app.monitoring.registry import ForecastRegistry
from app.monitoring.retention import prune
from app.monitoring.storage import daily_errors, daily_horizon_errors, forecasts, horizon_errors, ticker_counts
from app.monitoring.validation import validate_pending_forecasts

TODAY = dt.date(2024, 6, 1)
TICKERS = ("MSFT", "AAPL", "SPX")


@pytest.fixture
def registry(tmp_path):
    reg = ForecastRegistry.at_path(str(tmp_path / "forecasts.sqlite3"))
    yield reg
    reg.dispose()


def fill(reg, seed=0, days=120, forecasts_per_day=2):
    """Forecasts of 1-5 steps made on each weekday of `days` before TODAY, for three tickers, and their closes."""
    rng = np.random.default_rng(seed)
    made_days = pd.bdate_range(end=TODAY - dt.timedelta(days=1), periods=days)
    for ticker in TICKERS:
        closes = pd.Series(100 * np.exp(np.cumsum(rng.normal(0, 0.01, len(made_days) + 10))),
                           index=pd.bdate_range(made_days[0], periods=len(made_days) + 10))
        reg.record_actuals(ticker, closes[closes.index < pd.Timestamp(TODAY)])
        for k, made in enumerate(made_days):
            for j in range(forecasts_per_day):
                horizon = int(rng.integers(1, 6))
                targets = pd.bdate_range(made + pd.Timedelta(days=1), periods=horizon)
                rows = [_row(d.date(), closes.iloc[k], rng, with_drift=j % 4 != 3) for d in targets]
                last_close = None if j % 5 == 4 else float(closes.iloc[k])  # some without a naive forecast
                # A challenger shadows every other forecast: its rows are left out of the default report.
                shadows = [("v2", [_row(d.date(), closes.iloc[k], rng) for d in targets])] if j % 2 == 0 else []
                reg.register_forecasts(ticker, made.date(), last_close, rows, "v1", None, f"{ticker}-{k}-{j}",
                                       shadows=shadows)


def _row(day, close, rng, with_drift=True):
    """A forecast row with 80%/95% bounds (some too narrow to hold the close) and, usually, the drift forecast."""
    predicted = float(close * rng.normal(1, 0.02))
    half = float(close * rng.uniform(0.005, 0.04))
    row = {"date": day, "close": predicted, "lower_80": predicted - half, "upper_80": predicted + half,
           "lower_95": predicted - 1.6 * half, "upper_95": predicted + 1.6 * half}
    if with_drift:
        row["drift"] = float(close * 1.0005)
    return row


def validate(reg, days_back=400):
    return validate_pending_forecasts(reg, UploadedActualsSource(reg), days_back=days_back, today=TODAY)


def raw_groups(reg, keys):
    """The measures grouped by `keys`, scanned from the raw forecasts."""
    c = forecasts.c
    stmt = select(*(c[k] for k in keys), *over_rows(c)).where(c.status == "validated").group_by(*(c[k] for k in keys))
    with reg.engine.connect() as conn:
        return {tuple(r[:len(keys)]): dict(r._mapping) for r in conn.execute(stmt)}


def scanned_groups(reg, _table, keys, ticker=None, since=None, until=None, model_version=None):
    """What the report reads from a roll-up (app.monitoring.performance._groups), scanned from the validated
    forecasts instead."""
    from app.monitoring.performance import _filters

    c = forecasts.c
    columns = [c[k] for k in keys]
    stmt = select(*columns, *over_rows(c)).where(c.status == "validated",
                                                  *_filters(ticker, since, until, model_version))
    if keys:
        stmt = stmt.group_by(*columns).order_by(*columns)
    with reg.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(stmt)]


def rollup_rows(reg, table, keys):
    with reg.engine.connect() as conn:
        return {tuple(r[:len(keys)]): dict(r._mapping) for r in conn.execute(select(table))}


def assert_same_measures(actual, expected):
    assert actual.keys() == expected.keys()
    for key, row in expected.items():
        for m in MEASURES:
            got, want = actual[key][m.name], row[m.name]
            if want is None and m.merge == "sum":
                want = 0.0  # a sum over no values: NULL in a scan, 0 once merged
            assert (got is None) == (want is None) and (got is None or math.isclose(got, want, rel_tol=1e-9)), \
                (key, m.name, got, want)


def test_validation_keeps_the_rollups_equal_to_a_scan_of_the_forecasts(registry):
    fill(registry)
    first = validate(registry, days_back=60)  # in two runs: the second merges into existing roll-up rows
    second = validate(registry)
    assert first.validated > 100 and second.validated > 100
    for table, keys in rollups.ROLLUPS:
        assert_same_measures(rollup_rows(registry, table, keys), raw_groups(registry, keys))
    counts = {t: registry.counts(t) for t in TICKERS}
    with registry.engine.connect() as conn:
        scanned = conn.execute(select(forecasts.c.ticker, forecasts.c.status)).all()
    assert counts == {t: {s: sum(1 for r in scanned if tuple(r) == (t, s)) for s in ("pending", "validated")}
                      for t in TICKERS}
    assert registry.last_validated_at() is not None


def test_rebuilding_the_rollups_from_the_forecasts_gives_the_same_tables(registry):
    fill(registry, days=40)
    validate(registry)
    before = {table.name: rollup_rows(registry, table, [c.name for c in table.primary_key])
              for table in (daily_errors, horizon_errors, daily_horizon_errors, ticker_counts)}
    with registry.writing() as conn:
        rollups.rebuild(conn)
    for table, _ in rollups.ROLLUPS:
        assert_same_measures(rollup_rows(registry, table, [c.name for c in table.primary_key]), before[table.name])
    after = rollup_rows(registry, ticker_counts, [c.name for c in ticker_counts.primary_key])
    assert {k: (v["pending"], v["validated"]) for k, v in after.items()} == \
        {k: (v["pending"], v["validated"]) for k, v in before["ticker_counts"].items()}


def _validate_in_process(url):
    reg = ForecastRegistry(url)
    try:
        validate(reg)
    finally:
        reg.dispose()


def test_concurrent_validators_merge_each_forecast_once(registry):
    fill(registry, days=30)
    context = multiprocessing.get_context("spawn")
    procs = [context.Process(target=_validate_in_process, args=(registry.url,)) for _ in range(3)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(120)
    assert [proc.exitcode for proc in procs] == [0, 0, 0]
    for table, keys in rollups.ROLLUPS:
        assert_same_measures(rollup_rows(registry, table, keys), raw_groups(registry, keys))


def kept_figures(report, kept_from):
    """Everything in the report about validated forecasts: overall (with drift, coverage, min/max errors), per
    horizon, coverage per bucket, per ticker, history, windows."""
    return {"metrics": report["metrics"], "by_horizon": report["by_horizon"], "degradation": report["degradation"],
            "validated": report["validated"], "coverage": report["coverage"], "naive_alarm": report["naive_alarm"],
            "history": [h for h in report["history"] if h["date"] >= kept_from.isoformat()],
            "per_ticker": [{k: v for k, v in t.items() if k != "pending"}
                           for t in report.get("per_ticker", []) if t["ticker"] in TICKERS]}


def test_pruning_old_forecasts_leaves_the_figures_of_kept_days_unchanged(registry):
    fill(registry, days=120)
    validate(registry)
    # Old pending forecasts too: made long ago for a ticker whose closes never came.
    registry.register_forecasts("GONE", "2023-11-01", 10.0, [{"date": "2023-11-02", "close": 11.0}], "v1", None, "g")
    before = performance_report(registry, today=TODAY, window_days=14)
    before_ticker = performance_report(registry, today=TODAY, ticker="MSFT", window_days=14)
    before_version = performance_report(registry, today=TODAY, window_days=14, model_version="v2")
    period = (TODAY - dt.timedelta(days=30), TODAY - dt.timedelta(days=1))  # within the days kept
    before_period = performance_report(registry, today=TODAY, window_days=14, period=period)
    # Reaching back over the days pruned: every figure (per horizon too) is read from roll-ups kept forever.
    long_period = (TODAY - dt.timedelta(days=200), TODAY - dt.timedelta(days=1))
    before_long = performance_report(registry, today=TODAY, window_days=14, period=long_period)
    before_long_ticker = performance_report(registry, today=TODAY, window_days=14, period=long_period,
                                            ticker="AAPL", model_version="v2")
    assert before["metrics"]["drift"]["n"] > 100 and before["metrics"]["coverage"]["80"]["n"] > 100
    assert before_version["metrics"]["n"] > 100 and before_period["metrics"]["n"] > 100
    raw_before = registry.count_all()

    result = prune(registry, keep_days=60, today=TODAY, batch=100)  # several batches
    kept_from = TODAY - dt.timedelta(days=60)
    assert result.kept_from == kept_from and result.deleted > 1000
    assert registry.count_all() == raw_before - result.deleted
    with registry.engine.connect() as conn:
        oldest = conn.execute(select(forecasts.c.target_date).order_by(forecasts.c.target_date).limit(1)).scalar()
    assert oldest >= kept_from

    after = performance_report(registry, today=TODAY, window_days=14)
    assert kept_figures(after, kept_from) == kept_figures(before, kept_from)
    assert kept_figures(performance_report(registry, today=TODAY, ticker="MSFT", window_days=14), kept_from) \
        == kept_figures(before_ticker, kept_from)
    assert kept_figures(performance_report(registry, today=TODAY, window_days=14, model_version="v2"), kept_from) \
        == kept_figures(before_version, kept_from)
    assert kept_figures(performance_report(registry, today=TODAY, window_days=14, period=period), kept_from) \
        == kept_figures(before_period, kept_from)
    for query, report in (({}, before_long), ({"ticker": "AAPL", "model_version": "v2"}, before_long_ticker)):
        assert report["by_horizon"] and report["by_horizon"][0]["checked_80"] > 0
        whole = kept_figures(report, dt.date.min)  # the pruned days' figures included
        assert kept_figures(performance_report(registry, today=TODAY, window_days=14, period=long_period, **query),
                            dt.date.min) == whole
    assert after["pending"] == before["pending"] - 1  # the old pending forecast left the count
    assert registry.counts("GONE") == {"pending": 0, "validated": 0}
    assert "GONE" not in [t["ticker"] for t in after["per_ticker"]]
    # Nothing left to prune: a second run deletes nothing.
    assert prune(registry, keep_days=60, today=TODAY).deleted == 0


def _close(a, b, path="report"):
    """Equal, floats within 1e-9 relative (roll-ups add partial sums in another order than one scan)."""
    if isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys(), path
        for key in a:
            _close(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _close(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12), (path, a, b)
    else:
        assert a == b, (path, a, b)


@pytest.mark.parametrize("query", [{}, {"ticker": "MSFT"}, {"model_version": "v2"}, {"model_version": "v1"},
                                   {"period": (dt.date(2024, 3, 1), dt.date(2024, 4, 30))},
                                   {"period": (dt.date(2024, 3, 1), dt.date(2024, 4, 30)), "model_version": "v2",
                                    "ticker": "AAPL"}])
def test_the_report_from_rollups_equals_the_report_from_a_scan(registry, monkeypatch, query):
    """Every figure of the report (drift, coverage, min/max errors, per version and period, per horizon over a
    period) read from the roll-ups equals the same report computed by scanning the validated forecasts."""
    from app.monitoring import performance

    fill(registry, days=80)
    validate(registry)
    from_rollups = performance_report(registry, today=TODAY, window_days=14, **query)
    monkeypatch.setattr(performance, "_groups", scanned_groups)
    from_scan = performance_report(registry, today=TODAY, window_days=14, **query)
    for report in (from_rollups, from_scan):
        report.pop("generated_at")
    assert from_rollups["metrics"]["n"] > 50 and from_rollups["metrics"]["drift"]["n"] > 0
    _close(from_rollups, from_scan)


def test_prune_refuses_a_retention_that_is_not_a_positive_number_of_days(registry):
    with pytest.raises(ValueError, match="positive whole number"):
        prune(registry, keep_days=0)


def test_the_prune_command_applies_the_configured_retention(tmp_path):
    from app import create_app

    app = create_app({"REGISTRY_PATH": str(tmp_path / "forecasts.sqlite3"), "DATABASE_URL": "", "MONITORING_TOKEN": "",
                      "RETENTION_DAYS": "30"})
    client = app.test_client()
    old, recent = dt.date.today() - dt.timedelta(days=40), dt.date.today() + dt.timedelta(days=3)
    for target in (old, recent):
        assert client.post("/monitoring/register", json={"ticker": "MSFT", "target_date": target.isoformat(),
                                                         "prediction_value": 100.0}).status_code == 201
    runner = app.test_cli_runner()
    result = runner.invoke(args=["monitoring", "prune"])
    cutoff = dt.date.today() - dt.timedelta(days=30)
    assert result.exit_code == 0 and result.output.strip() == \
        f"pruned 1 forecasts with a target date before {cutoff.isoformat()}", result.output
    result = runner.invoke(args=["monitoring", "prune", "--keep-days", "0"])
    assert result.exit_code == 2 and "--keep-days" in result.output
    assert client.get("/monitoring/performance").get_json()["pending"] == 1


def test_the_scale_bench_builds_a_registry_and_ends_with_its_json_figures(tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    result = subprocess.run([sys.executable, "bench/bench_monitoring_scale.py", "--rows", "3000", "--repeat", "3",
                             "--fresh", "40", "--db", str(tmp_path / "scale.sqlite3")],
                            cwd=root, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(figures) == {"rows", "report_p50_ms", "report_ticker_p50_ms", "report_version_p50_ms",
                            "report_period_p50_ms", "register_p50_ms", "validate_rows_per_s", "db_bytes"}
    assert figures["rows"] == 3000 and figures["validate_rows_per_s"] > 0 and figures["db_bytes"] > 0
    assert not (tmp_path / "scale.sqlite3").exists()  # built by the bench without --keep: deleted
