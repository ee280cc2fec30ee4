"""The drift watch: KS and volatility ratio on constructed data with known answers, gauges without tickers."""
import datetime as dt

import numpy as np
import pandas as pd
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from app.metrics import ApiMetrics
from app.monitoring.drift import (
    DRIFT_MIN_RETURNS,
    drift_by_ticker,
    ks_statistic,
    recent_returns,
    volatility_ratio,
    watch,
)
from app.thresholds import INPUT_RETURNS_DRIFT, INPUT_VOLATILITY_SHIFT

TODAY = dt.date(2026, 6, 1)
SEED = 20261202
RNG = np.random.default_rng(SEED)

REFERENCE = np.random.default_rng(SEED + 1).normal(0.0003, 0.01, 3000)  # apart from the tests' draws


def store_returns(registry, ticker, returns, last=TODAY - dt.timedelta(days=3)):
    """Closes on consecutive business days ending at `last` whose daily log returns are exactly `returns`."""
    closes = 100.0 * np.exp(np.concatenate([[0.0], np.cumsum(returns)]))
    dates = pd.bdate_range(end=pd.Timestamp(last), periods=len(closes))
    registry.record_actuals(ticker, pd.Series(closes, index=dates))


def test_ks_statistic_known_values():
    assert ks_statistic(REFERENCE, REFERENCE) == 0.0
    assert ks_statistic(REFERENCE, REFERENCE + 1.0) == 1.0  # disjoint samples
    # By hand: the distribution functions differ most at 3, where all of a and 1 (then 2) of the 4 of b lie.
    assert ks_statistic([1, 2, 3], [2.5, 4, 5, 6]) == pytest.approx(1 - 1 / 4)
    assert ks_statistic([1.0, 2.0, 3.0], [2.0, 3.0, 4.0, 5.0]) == pytest.approx(1 - 2 / 4)
    with pytest.raises(ValueError):
        ks_statistic([], REFERENCE)


def test_ks_statistic_matches_scipy():
    from scipy import stats  # a test dependency only: the server computes KS with NumPy
    for shift, scale, n in ((0.0, 1.0, 60), (0.005, 1.0, 40), (0.0, 2.5, 25)):
        sample = RNG.normal(shift, 0.01 * scale, n)
        assert ks_statistic(sample, REFERENCE) == pytest.approx(stats.ks_2samp(sample, REFERENCE).statistic)


def test_volatility_ratio_of_scaled_returns_is_the_scale():
    assert volatility_ratio(REFERENCE * 2.5, REFERENCE) == pytest.approx(2.5)
    assert volatility_ratio(REFERENCE[:60], REFERENCE[:60]) == 1.0


def test_returns_across_a_gap_in_the_stored_closes_are_left_out():
    dates = pd.to_datetime(["2026-01-05", "2026-01-06", "2026-01-07", "2026-02-20", "2026-02-23"])
    closes = pd.Series([100.0, 101.0, 100.0, 120.0, 121.0], index=dates)
    returns = recent_returns(closes)
    assert returns == pytest.approx(np.log([101 / 100, 100 / 101, 121 / 120]))  # not 100 -> 120 over six weeks


def test_drift_by_ticker_on_constructed_histories(registry):
    window = REFERENCE[-60:]
    store_returns(registry, "SAME", window)  # exactly the reference: no drift at all
    store_returns(registry, "WILD", window * 2.5)  # same shape, 2.5 times as volatile
    store_returns(registry, "SHIFTED", window + 0.5)  # nothing in common with the reference
    store_returns(registry, "SHORT", window[:DRIFT_MIN_RETURNS - 1])  # too few returns to judge
    store_returns(registry, "OLD", window, last=TODAY - dt.timedelta(days=400))  # not recent
    found = {d.ticker: d for d in drift_by_ticker(registry, window, TODAY)}
    assert set(found) == {"SAME", "WILD", "SHIFTED"}
    # Stored as closes and read back, returns differ from the originals in the last bits, which can split a tie
    # of the two distribution functions by one step of 1/60.
    assert found["SAME"].ks <= 1 / 60 + 1e-12 and found["SAME"].volatility_ratio == pytest.approx(1.0)
    assert not found["SAME"].drifting
    assert found["WILD"].volatility_ratio == pytest.approx(2.5) and found["WILD"].drifting
    assert found["SHIFTED"].ks == 1.0 and found["SHIFTED"].drifting
    assert found["SAME"].returns == 60
    assert [d.ticker for d in drift_by_ticker(registry, window, TODAY)][0] == "SHIFTED"  # most drifted first


def test_watch_exports_gauges_without_ticker_labels(registry):
    window = REFERENCE[-60:]
    store_returns(registry, "SAME", window)
    store_returns(registry, "WILD", window * 2.5)
    prometheus = CollectorRegistry()
    metrics = ApiMetrics(prometheus)
    summary = watch(registry, window, metrics, TODAY)
    assert (summary["checked"], summary["drifting"]) == (2, 1)
    text = generate_latest(prometheus).decode()
    values = {line.split()[0]: float(line.split()[1]) for line in text.splitlines()
              if line.startswith("input_")}
    assert values["input_volatility_ratio_max"] == pytest.approx(2.5)
    assert values["input_drift_tickers_checked"] == 2 and values["input_drift_tickers_drifting"] == 1
    assert "{" not in "".join(line for line in text.splitlines() if line.startswith("input_"))  # no labels at all
    assert values["input_drift_ks_max"] == pytest.approx(ks_statistic(window * 2.5, window))


def test_thresholds_are_the_alerts():
    from app.monitoring.drift import TickerDrift

    at_limit = TickerDrift("X", 60, "2026-01-01", INPUT_RETURNS_DRIFT.value, INPUT_VOLATILITY_SHIFT.value)
    assert not at_limit.drifting  # the alerts fire above their threshold, not at it
    assert TickerDrift("X", 60, "2026-01-01", INPUT_RETURNS_DRIFT.value + 0.01, 1.0).drifting


def test_a_validation_run_reports_drift_and_the_page_shows_it_per_ticker(tmp_path, gspc_frame):
    from tests.test_model_versions import AUTH, build_app

    app = build_app(tmp_path)
    client = app.test_client()
    frame = gspc_frame.tail(80).copy()
    frame["Date"] = pd.bdate_range(end=pd.Timestamp.today().normalize() - pd.Timedelta(days=3),
                                   periods=80).strftime("%Y-%m-%d")
    frame["Close"] = 100 * np.exp(np.cumsum(RNG.normal(0, 0.05, 80)))  # five times the index's daily moves
    upload = client.post("/monitoring/actuals?ticker=JUMPY", data=frame.to_csv(index=False).encode(),
                         content_type="text/csv", headers=AUTH)
    assert upload.status_code == 200, upload.get_json()
    drift = client.post("/monitoring/validate", headers=AUTH).get_json()["drift"]
    assert drift["checked"] == 1 and drift["tickers"][0]["ticker"] == "JUMPY"
    assert drift["tickers"][0]["volatility_ratio"] > 3 and drift["tickers"][0]["drifting"]
    page = client.get("/monitoring").get_data(as_text=True)
    assert 'id="drift"' in page and "JUMPY" in page
    metrics = client.get("/metrics").get_data(as_text=True)
    assert "input_drift_tickers_drifting 1.0" in metrics
    command = app.test_cli_runner().invoke(args=["monitoring", "validate", "--offline"])
    assert "drift: 1 tickers checked, 1 drifting (JUMPY)" in command.output, command.output
