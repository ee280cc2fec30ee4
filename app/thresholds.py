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
    unit: str  # how the rule's number reads: "seconds", "ratio" (0..1), "percent" (5 = 5%), "hours"
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
MODEL_MAPE = Threshold(
    "ModelMapeAboveThreshold", 5.0, "percent", "30m",
    "a next-day close 5% off is worse than most naive forecasts of large stocks and indices")
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

# The window the MAPE alert and the monitoring report judge degradation over, and the fewest validated forecasts
# in it before the alert may fire (one bad day on one ticker should not page).
DEGRADATION_WINDOW_DAYS = 7
MAPE_MIN_VALIDATED = 5

ALERT_THRESHOLDS = (HTTP_P95_LATENCY, HTTP_5XX_RATIO, INFERENCE_P95, MODEL_MAPE, VALIDATION_STALE,
                    INPUT_RETURNS_DRIFT, INPUT_VOLATILITY_SHIFT)
