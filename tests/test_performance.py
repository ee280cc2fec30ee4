"""Performance report: error metrics against hand-computed values, naive baseline, degradation, filters."""
import datetime as dt
import math

import pytest

from app.monitoring.performance import performance_report
from app.monitoring.registry import ForecastRegistry

TODAY = dt.date(2024, 3, 1)


@pytest.fixture
def registry(tmp_path):
    reg = ForecastRegistry.at_path(str(tmp_path / "forecasts.sqlite3"))
    yield reg
    reg.dispose()


def add_validated(reg, target, predicted, actual, last_close=None, ticker="MSFT", step=1, key=None):
    """Register one forecast and validate it directly with the given realised close."""
    key = key or f"{ticker}-{target}-{predicted}-{actual}"
    reg.register_forecasts(ticker, dt.date.fromisoformat(target) - dt.timedelta(days=1), last_close,
                           [{"date": target, "close": predicted, "horizon_step": step}], "v1", "req", key)
    row = [r for r in reg.pending(ticker=ticker) if r["input_hash"] == key][0]
    err = abs(predicted - actual)
    naive = None if last_close is None else abs(last_close - actual)
    reg.mark_validated([{"id": row["id"], "actual": actual, "actual_date": dt.date.fromisoformat(target),
                         "abs_error": err, "ape": 100.0 * err / actual, "naive_abs_error": naive,
                         "naive_ape": None if naive is None else 100.0 * naive / actual}])


def test_errors_match_hand_computed_values(registry):
    # predicted / realised / last close:  100 / 102 / 101,  110 / 105 / 101,  95 / 100 / 101
    add_validated(registry, "2024-02-26", 100.0, 102.0, 101.0)
    add_validated(registry, "2024-02-27", 110.0, 105.0, 101.0)
    add_validated(registry, "2024-02-28", 95.0, 100.0, 101.0)
    m = performance_report(registry, today=TODAY)["metrics"]
    assert m["n"] == 3
    assert m["mae"] == pytest.approx(4.0)                                  # (2 + 5 + 5) / 3
    assert m["mape"] == pytest.approx((2 / 102 + 5 / 105 + 5 / 100) * 100 / 3)  # 3.9075630...
    assert m["mape"] == pytest.approx(3.907563, abs=1e-6)
    assert m["rmse"] == pytest.approx(math.sqrt(18.0))                     # sqrt((4 + 25 + 25) / 3) = 4.2426...
    assert m["min_ape"] == pytest.approx(100 * 2 / 102)                    # 1.9608 %
    assert m["max_ape"] == pytest.approx(5.0)
    assert (m["min_abs_error"], m["max_abs_error"]) == (pytest.approx(2.0), pytest.approx(5.0))  # price units
    assert m["mean_predicted"] == pytest.approx(305 / 3)
    assert m["mean_actual"] == pytest.approx(307 / 3)
    naive = m["naive"]                                                     # |101-102|, |101-105|, |101-100|
    assert naive["n"] == 3
    assert naive["mae"] == pytest.approx(2.0)
    assert naive["rmse"] == pytest.approx(math.sqrt(6.0))                  # sqrt((1 + 16 + 1) / 3)
    assert naive["mape"] == pytest.approx((1 / 102 + 4 / 105 + 1 / 100) * 100 / 3)
    assert m["rmae"] == pytest.approx(2.0) and m["beats_naive"] is False   # 4 / 2: worse than doing nothing


def test_rmae_uses_only_forecasts_that_have_a_naive_value(registry):
    add_validated(registry, "2024-02-26", 100.0, 102.0, 101.0)   # model error 2, naive 1
    add_validated(registry, "2024-02-27", 110.0, 100.0, None)    # model error 10, no naive
    m = performance_report(registry, today=TODAY)["metrics"]
    assert m["mae"] == pytest.approx(6.0)
    assert m["naive"]["n"] == 1 and m["rmae"] == pytest.approx(2.0)


def test_empty_registry_reports_no_data(registry):
    report = performance_report(registry, today=TODAY)
    assert (report["validated"], report["pending"], report["metrics"]["mape"]) == (0, 0, None)
    assert report["degradation"]["status"] == "no_data" and report["degradation"]["degraded"] is False
    assert report["history"] == [] and report["recent"]["forecasts"] == []


@pytest.mark.parametrize("predicted, threshold, degraded", [
    (105.0, 5.0, False),   # APE exactly 5 %: at the threshold, not above it
    (105.01, 5.0, True),   # just above
    (94.99, 5.0, True),
    (103.0, 2.5, True),    # a configured threshold
    (103.0, 3.0, False),
])
def test_degradation_flips_at_the_threshold(registry, predicted, threshold, degraded):
    add_validated(registry, "2024-02-28", predicted, 100.0, 100.0)
    d = performance_report(registry, today=TODAY, threshold=threshold)["degradation"]
    assert d["degraded"] is degraded
    assert d["status"] == ("degraded" if degraded else "ok")
    assert d["threshold_mape"] == threshold and d["recent"]["n"] == 1


def test_degradation_looks_only_at_the_recent_window_and_reports_the_trend(registry):
    add_validated(registry, "2024-02-20", 102.0, 100.0)  # previous window (Feb 16-22): APE 2 %
    add_validated(registry, "2024-02-27", 106.0, 100.0)  # recent window (Feb 23-29): APE 6 %
    add_validated(registry, "2024-01-10", 150.0, 100.0)  # long ago: ignored by both windows
    d = performance_report(registry, today=TODAY, window_days=7)["degradation"]
    assert d["recent"] == {"from": "2024-02-23", "to": "2024-02-29", "n": 1, "mape": pytest.approx(6.0)}
    assert d["previous"]["from"] == "2024-02-16" and d["previous"]["mape"] == pytest.approx(2.0)
    assert d["degraded"] is True and d["trend"] == "worsening" and d["mape_change_pp"] == pytest.approx(4.0)
    wider = performance_report(registry, today=TODAY, window_days=30)["degradation"]
    assert (wider["recent"]["n"], wider["previous"]["n"], wider["trend"]) == (2, 1, "improving")  # 50 % -> 4 %


@pytest.mark.parametrize("previous_predicted, recent_predicted, trend", [
    (104.0, 101.0, "improving"),   # 4 % -> 1 %
    (102.0, 102.05, "stable"),     # 2 % -> 2.05 %: under the 0.1 pp tolerance
    (101.0, 101.5, "worsening"),   # 1 % -> 1.5 %
])
def test_trend(registry, previous_predicted, recent_predicted, trend):
    add_validated(registry, "2024-02-20", previous_predicted, 100.0)
    add_validated(registry, "2024-02-27", recent_predicted, 100.0)
    assert performance_report(registry, today=TODAY)["degradation"]["trend"] == trend


def test_history_per_target_day_and_per_horizon(registry):
    add_validated(registry, "2024-02-26", 101.0, 100.0, step=1)
    add_validated(registry, "2024-02-26", 103.0, 100.0, step=3)
    add_validated(registry, "2024-02-28", 98.0, 100.0, step=1)
    add_validated(registry, "2024-01-05", 98.0, 100.0, step=1)  # older than the 30-day history
    report = performance_report(registry, today=TODAY)
    assert [(h["date"], h["n"], h["mape"]) for h in report["history"]] == [
        ("2024-02-26", 2, pytest.approx(2.0)), ("2024-02-28", 1, pytest.approx(2.0))]
    assert report["history"][0]["rmse"] == pytest.approx(math.sqrt(5.0))
    assert [(h["horizon_step"], h["n"]) for h in report["by_horizon"]] == [(1, 3), (3, 1)]


def test_recent_forecasts_filter_limit_and_per_ticker(registry):
    for day in range(1, 9):
        add_validated(registry, f"2024-02-{day:02d}", 101.0, 100.0)
    registry.register_forecasts("AAPL", "2024-02-29", 180.0, [{"date": "2024-03-04", "close": 181.0}],
                                "v1", "req", "pending-one")
    report = performance_report(registry, status="pending", limit=5, today=TODAY)
    assert [(f["ticker"], f["status"]) for f in report["recent"]["forecasts"]] == [("AAPL", "pending")]
    validated = performance_report(registry, status="validated", limit=5, today=TODAY)["recent"]["forecasts"]
    assert len(validated) == 5 and {f["status"] for f in validated} == {"validated"}
    assert validated[0]["target_date"] == "2024-02-08"  # newest registration first
    report = performance_report(registry, today=TODAY)
    assert (report["validated"], report["pending"]) == (8, 1)
    assert [(t["ticker"], t["validated"], t["pending"]) for t in report["per_ticker"]] == [
        ("MSFT", 8, 0), ("AAPL", 0, 1)]
    assert report["per_ticker"][0]["mape"] == pytest.approx(1.0) and report["per_ticker"][1]["mape"] is None
    only_aapl = performance_report(registry, ticker="AAPL", today=TODAY)
    assert (only_aapl["validated"], only_aapl["pending"], only_aapl["ticker"]) == (0, 1, "AAPL")
    assert "per_ticker" not in only_aapl
