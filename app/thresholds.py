"""Every alert threshold and Prometheus selector of the service, in one table.

The app's defaults (app/config.py), the Grafana dashboards (grafana/build_dashboards.py) read this module;
the alert rules (prometheus/rules/*.yml) are written by hand for promtool and checked against it by
tests/test_thresholds.py, which also checks that each line a dashboard draws equals its alert's threshold.
To change a threshold: edit it here, edit the alert's expression and texts, rerun
`python grafana/build_dashboards.py`, and run the tests (docs/thresholds.md).
"""
from __future__ import annotations

from dataclasses import dataclass

# Prometheus scrape job of the API (prometheus/prometheus.yml); every rule and panel selects it.
API_JOB = "api"
API_SELECTOR = f'{{job="{API_JOB}"}}'


@dataclass(frozen=True)
class Threshold:
    """An alert's boundary: the alert fires while the watched value stays above `value` for `for_`."""

    alert: str
    value: float
    unit: str  # how the rule's number reads: "seconds", "ratio" (0..1), "percent" (5 = 5%), "hours", "rMAE"
    for_: str
    why: str

    def shown(self) -> str:
        """The value as people read it on dashboards and in alert texts (100 ms, 5%)."""
        if self.unit == "seconds":
            return f"{self.value * 1000:g} ms" if self.value < 1 else f"{self.value:g} s"
        if self.unit == "ratio":
            return f"{self.value * 100:g}%"
        if self.unit == "percent":
            return f"{self.value:g}%"
        if self.unit == "rMAE":
            return f"rMAE {self.value:g}"
        return f"{self.value:g} {self.unit}"


HTTP_P95_LATENCY = Threshold(
    "HighP95Latency", 0.5, "seconds", "10m",
    "a forecast answers in milliseconds; half a second at p95 means saturation or slow ticker fetches")
HTTP_5XX_RATIO = Threshold(
    "High5xxRatio", 0.05, "ratio", "5m",
    "user mistakes are 4xx, so one answer in twenty failing on the server side is a fault, not noise")
INFERENCE_P95 = Threshold(
    "HighInferenceP95", 0.1, "seconds", "10m",
    "the NumPy forward pass takes ~1 ms for one day and ~25 ms for 30; Keras model.predict alone took ~70 ms")
MODEL_WORSE_THAN_NAIVE = Threshold(
    "ModelWorseThanNaive", 1.0, "rMAE", "30m",
    "the model's MAE above naive's on the same validated forecasts means it does worse than repeating the last "
    "close; unlike a MAPE threshold this means the same at every horizon mix")
VALIDATION_STALE = Threshold(
    "ForecastsNotValidatedRecently", 26.0, "hours", "1h",
    "the validator runs hourly or daily: a day plus two hours without a run means it stopped")

INPUT_RETURNS_DRIFT = Threshold(
    "InputReturnsDrift", 0.3, "KS statistic", "3h",
    "with 20 to 60 recent returns a KS distance above 0.3 is far beyond chance (the 1% critical value for 60 "
    "returns is 0.21): the market the champion forecasts no longer looks like the one it learnt from")
INPUT_VOLATILITY_SHIFT = Threshold(
    "InputVolatilityShift", 2.0, "times the training volatility", "3h",
    "the intervals scale with recent volatility, but the point forecasts were fitted to calmer returns; twice the "
    "training volatility is a different regime (the S&P 500 reached 3.5 times in December 2008)")

# The window of the quality alerts, the 7-day coverage and the MAPE quality band of the monitoring report.
QUALITY_WINDOW_DAYS = 7
# Validated forecasts in the window before ModelWorseThanNaive may fire: with fewer, one volatile week can tip it.
RMAE_ALARM = MODEL_WORSE_THAN_NAIVE.value
RMAE_ALARM_MIN_FORECASTS = 100

# IntervalCoverageOutOfBand fires while the 80% band's realised coverage leaves 70-90% (a band, not a line: its
# own test in tests/test_thresholds.py). Ten points either side, because 50 forecasts give a sampling spread of
# about +/-6 points around 80%, so a narrower band would page on luck; below 50 forecasts it is not judged.
COVERAGE_80_LOW = 0.70
COVERAGE_80_HIGH = 0.90
COVERAGE_ALERT_MIN_FORECASTS = 50

# The MAPE quality band users of the earlier monitoring app know (good below 5%): shown on the monitoring page and
# the dashboard, never paging, since naive's own 30-day MAPE is about 5% at 1.2% daily volatility.
MAPE_QUALITY_BAND = 5.0

# Alerts that fire above one value (a band alert is checked apart).
ALERT_THRESHOLDS = (HTTP_P95_LATENCY, HTTP_5XX_RATIO, INFERENCE_P95, MODEL_WORSE_THAN_NAIVE, VALIDATION_STALE,
                    INPUT_RETURNS_DRIFT, INPUT_VOLATILITY_SHIFT)
BAND_ALERTS = ("IntervalCoverageOutOfBand",)
