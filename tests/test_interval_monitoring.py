"""Coverage watched live: validation records interval hits and drift errors, the report shows coverage by
horizon bucket and the worse-than-naive verdict, metrics count hits per bounded label, and production adjusts
the intervals from the validated forecasts."""
import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
from prometheus_client import CollectorRegistry

from app import thresholds
from app.intervals import TRACKING_RATE
from app.metrics import ApiMetrics
from app.monitoring import interval_adjustment
from app.monitoring.performance import performance_report
from app.monitoring.prices import UploadedActualsSource
from app.monitoring.validation import validate_pending_forecasts
from app.services import services_of

TODAY = dt.date(2024, 3, 1)


def forecast_rows(start, predicted, width80, width95, drift):
    """One row per horizon step from `start` (business days), bounds symmetric around `predicted`."""
    days = pd.bdate_range(start, periods=len(predicted))
    return [{"date": d.date().isoformat(), "close": p, "lower_80": p - width80, "upper_80": p + width80,
             "lower_95": p - width95, "upper_95": p + width95, "drift": dr}
            for d, p, dr in zip(days, predicted, drift, strict=True)]


def validate_with(registry, closes_by_day):
    registry.record_actuals("MSFT", pd.Series(closes_by_day))
    return validate_pending_forecasts(registry, UploadedActualsSource(registry), days_back=60, today=TODAY)


def test_validation_records_interval_hits_and_drift_errors(registry):
    rows = forecast_rows("2024-02-05", [100.0, 100.0, 100.0], width80=2.0, width95=5.0, drift=[101.0, 102.0, 103.0])
    registry.register_forecasts("MSFT", "2024-02-02", 100.0, rows, "v1", "req", "h1")
    # Realised: inside both, outside 80% but inside 95%, outside both.
    result = validate_with(registry, {pd.Timestamp(d): c for d, c in
                                      zip(pd.bdate_range("2024-02-05", periods=3), [101.0, 104.0, 94.0],
                                          strict=True)})
    assert result.validated == 3
    report = performance_report(registry, today=TODAY)
    by_step = {r["horizon_step"]: r for r in report["by_horizon"]}
    assert [by_step[s]["coverage_80"] for s in (1, 2, 3)] == [1.0, 0.0, 0.0]
    assert [by_step[s]["coverage_95"] for s in (1, 2, 3)] == [1.0, 1.0, 0.0]
    assert [by_step[s]["drift_mae"] for s in (1, 2, 3)] == [0.0, 2.0, 9.0]
    metrics = report["metrics"]
    assert metrics["drift"]["mae"] == pytest.approx(11 / 3)
    assert metrics["rmae_vs_drift"] == pytest.approx((1 + 4 + 6) / 11)  # model errors 1, 4, 6; drift 0, 2, 9
    buckets = {b["horizon_bucket"]: b for b in report["coverage"]["by_bucket"]}
    assert buckets["1"]["80"] == {"n": 1, "coverage": 1.0}
    assert buckets["2-5"]["80"] == {"n": 2, "coverage": 0.0} and buckets["2-5"]["95"] == {"n": 2, "coverage": 0.5}
    assert buckets["21-30"]["80"] == {"n": 0, "coverage": None}
    assert report["coverage"]["nominal"] == {"80": 0.80, "95": 0.95}
    assert report["coverage"]["band_80"] == [thresholds.COVERAGE_80_LOW, thresholds.COVERAGE_80_HIGH]


def test_a_forecast_without_bounds_or_drift_counts_in_neither(registry):
    registry.register_forecasts("MSFT", "2024-02-02", 100.0, [{"date": "2024-02-05", "close": 101.0}],
                                "v1", "req", "h2")
    validate_with(registry, {pd.Timestamp("2024-02-05"): 100.0})
    report = performance_report(registry, today=TODAY)
    assert report["metrics"]["coverage"]["80"] == {"n": 0, "coverage": None}
    assert report["metrics"]["drift"] is None and report["metrics"]["n"] == 1


def add_window(registry, n, model_error, naive_error, key):
    """n validated one-day forecasts in the alarm window with the given absolute errors."""
    target = TODAY - dt.timedelta(days=2)
    rows = [{"date": target.isoformat(), "close": 100.0 + model_error, "horizon_step": 1}]
    for i in range(n):
        registry.register_forecasts(f"T{i}", target - dt.timedelta(days=1), 100.0 + naive_error, rows, "v1", "r",
                                    f"{key}{i}")
    validate = [{"id": r["id"], "actual": 100.0, "actual_date": target, "abs_error": model_error,
                 "ape": model_error, "naive_abs_error": naive_error, "naive_ape": naive_error}
                for r in registry.pending()]
    registry.mark_validated(validate)


@pytest.mark.parametrize("n, model_error, status", [
    (thresholds.RMAE_ALARM_MIN_FORECASTS, 1.01, "worse_than_naive"),
    (thresholds.RMAE_ALARM_MIN_FORECASTS, 1.0, "ok"),      # exactly as good as naive: no alarm
    (thresholds.RMAE_ALARM_MIN_FORECASTS - 1, 3.0, "too_few"),
])
def test_naive_alarm_boundaries(registry, n, model_error, status):
    add_window(registry, n, model_error, 1.0, "k")
    alarm = performance_report(registry, today=TODAY)["naive_alarm"]
    assert alarm["status"] == status and alarm["n"] == n
    assert alarm["rmae"] == pytest.approx(model_error)
    assert alarm["window_days"] == thresholds.QUALITY_WINDOW_DAYS


def test_metrics_count_hits_per_level_and_horizon_bucket():
    registry = CollectorRegistry()
    metrics = ApiMetrics(registry)
    metrics.record_coverage([1, 3, 30, 25], {"80": [1, 0, 1, None], "95": [1, 1, 1, None]})

    def value(name, level, bucket):
        return registry.get_sample_value(name, {"level": level, "horizon_bucket": bucket})

    assert value("model_interval_checked_total", "80", "2-5") == 1 and value("model_interval_inside_total", "80",
                                                                              "2-5") == 0
    assert value("model_interval_checked_total", "80", "21-30") == 1  # the None (no interval) is not counted
    assert value("model_interval_inside_total", "95", "1") == 1
    assert value("model_interval_checked_total", "95", "6-10") == 0  # every child exists from the start
    labels = {s.labels["horizon_bucket"] for m in registry.collect() if m.name == "model_interval_checked"
              for s in m.samples}
    assert labels == {"1", "2-5", "6-10", "11-20", "21-30"}


def test_record_errors_counts_drift_where_it_is_known():
    registry = CollectorRegistry()
    metrics = ApiMetrics(registry)
    metrics.record_errors("validated", [101.0, 102.0], [100.0, 100.0], [100.5, 99.0], [103.0, math.nan])
    labels = {"source": "validated", "forecaster": "drift"}
    assert registry.get_sample_value("model_prediction_errors_total", labels) == 1
    assert registry.get_sample_value("model_prediction_absolute_error_total", labels) == 3.0
    assert registry.get_sample_value("model_prediction_errors_total", {**labels, "forecaster": "lstm"}) == 2


def add_hits(registry, step, hits, misses, version="v1"):
    target = TODAY - dt.timedelta(days=3)
    rows = [{"date": target.isoformat(), "close": 100.0, "horizon_step": step,
             "lower_80": 99.0, "upper_80": 101.0, "lower_95": 98.0, "upper_95": 102.0}]
    for i in range(hits + misses):
        registry.register_forecasts("MSFT", target - dt.timedelta(days=1), 100.0, rows, version, "r", f"{step}-{i}")
    pending = registry.pending()
    registry.mark_validated([{"id": r["id"], "actual": 100.0 if i < hits else 101.5, "actual_date": target,
                              "abs_error": 0.0, "ape": 0.0, "naive_abs_error": 0.0, "naive_ape": 0.0,
                              "inside_80": int(i < hits), "inside_95": 1} for i, r in enumerate(pending)])


def test_adjustment_widens_a_bucket_that_misses_and_narrows_one_that_over_covers(registry):
    add_hits(registry, step=1, hits=70, misses=30)   # 80% level: 30 misses where 20 were due
    add_hits(registry, step=25, hits=100, misses=0)  # 95% level everywhere inside: narrows a little
    factors = interval_adjustment.bucket_factors(registry, "v1")
    assert factors["80"]["1"] == pytest.approx(math.exp(TRACKING_RATE * (30 - 0.2 * 100)))
    assert factors["80"]["21-30"] == pytest.approx(math.exp(TRACKING_RATE * (0 - 0.2 * 100)))
    assert factors["95"]["1"] == pytest.approx(math.exp(TRACKING_RATE * (0 - 0.05 * 100)))
    assert factors["80"]["6-10"] == 1.0  # nothing validated there: the calibrated width
    assert interval_adjustment.bucket_factors(registry, "v2")["80"]["1"] == 1.0  # a new model starts afresh
    per_step = interval_adjustment.per_step(factors, 30)
    assert per_step["80"][0] == factors["80"]["1"] and per_step["80"][29] == factors["80"]["21-30"]


def test_adjustment_is_clipped(registry):
    add_hits(registry, step=1, hits=0, misses=200)
    assert interval_adjustment.bucket_factors(registry, "v1")["80"]["1"] == interval_adjustment.MAX_FACTOR


def test_predictor_widens_its_intervals_by_the_adjustment(app, gspc_frame):
    predictor = services_of(app).predictor  # the committed artifact
    closes = gspc_frame["Close"].to_numpy()[-300:]
    plain = predictor.forecast(closes, 5)
    wider = predictor.forecast(closes, 5, adjustment={"80": [1.5] * 30})
    np.testing.assert_allclose(np.log(wider.upper_80 / wider.close), 1.5 * np.log(plain.upper_80 / plain.close))
    np.testing.assert_allclose(wider.upper_95, plain.upper_95)  # levels adjust independently
