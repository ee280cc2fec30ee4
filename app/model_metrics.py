"""Prometheus metrics per model version and of the drift watch, with label values kept to a bounded set.

`model_version` is a label only for the versions this server loaded (clients can register forecasts under any
version name, which would otherwise grow the series without bound); every other version counts as "other".
`role` is champion, challenger or other (forecasts registered from elsewhere). Drift gauges carry no ticker:
tickers are user input.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

from prometheus_client import Counter, Gauge

OTHER = "other"
ROLE_LABELS = ("champion", "challenger")


class ModelVersionMetrics:
    """Forecasts and validated errors per (model_version, role), the champion, and the drift gauges."""

    def __init__(self, registry):
        labels = ("model_version", "role")
        self.known: frozenset[str] = frozenset()
        self.forecasts = Counter(
            "model_version_forecasts_total", "Forecasts made per model version: answered (champion) or shadowed "
            "(challenger).", labels, registry=registry)
        self.compared = Counter(
            "model_version_errors_total", "Validated forecasts with a naive baseline, per model version.",
            labels, registry=registry)
        self.absolute_error_sum = Counter(
            "model_version_absolute_error_total", "Sum of absolute errors of those forecasts, price units.",
            labels, registry=registry)
        self.naive_absolute_error_sum = Counter(
            "model_version_naive_absolute_error_total", "Sum of absolute errors of the naive forecast (last close) "
            "on the same forecasts, price units.", labels, registry=registry)
        self.interval_hits = Counter(
            "model_version_interval80_hits_total", "Of those forecasts, how many realised closes fell inside the "
            "80% interval.", labels, registry=registry)
        self.champion = Gauge(
            "model_champion", "1 for the model version serving as champion, 0 for the challengers.",
            ("model_version",), multiprocess_mode="mostrecent", registry=registry)
        self.drift_ks = Gauge(
            "input_drift_ks_max", "Largest two-sample KS statistic between a ticker's recent daily returns and the "
            "champion's training returns, at the latest validation run.",
            multiprocess_mode="mostrecent", registry=registry)
        self.volatility_ratio = Gauge(
            "input_volatility_ratio_max", "Largest ratio of a ticker's recent to the champion's training volatility, "
            "at the latest validation run.", multiprocess_mode="mostrecent", registry=registry)
        self.drift_checked = Gauge(
            "input_drift_tickers_checked", "Tickers with enough recent closes for the drift watch.",
            multiprocess_mode="mostrecent", registry=registry)
        self.drift_high = Gauge(
            "input_drift_tickers_drifting", "Tickers whose recent returns drifted from the training returns.",
            multiprocess_mode="mostrecent", registry=registry)

    def track(self, versions: Iterable[str], champion: str) -> None:
        """Label these versions by name from now on, and mark the champion."""
        self.known = frozenset(versions) | {champion}
        for version in self.known:
            for role in ROLE_LABELS:
                for counter in (self.forecasts, self.compared, self.absolute_error_sum,
                                self.naive_absolute_error_sum, self.interval_hits):
                    counter.labels(version, role)  # exist at 0 so the first increase() is not lost
            self.champion.labels(version).set(1 if version == champion else 0)

    def labels(self, version: str, role: str) -> tuple[str, str]:
        """Bounded label values for a forecast's version and role."""
        return (version if version in self.known else OTHER), (role if role in ROLE_LABELS else OTHER)

    def count_forecast(self, version: str, role: str) -> None:
        self.forecasts.labels(*self.labels(version, role)).inc()

    def record_validated(self, rows: Iterable[Mapping]) -> None:
        """Add validated forecasts (version, role, predicted, actual, last_close, lower_80, upper_80)."""
        for row in rows:
            if row.get("last_close") is None:
                continue  # no naive baseline: rMAE would compare unlike sets
            labels = self.labels(row["model_version"], row["role"])
            actual = row["actual"]
            self.compared.labels(*labels).inc()
            self.absolute_error_sum.labels(*labels).inc(abs(row["predicted"] - actual))
            self.naive_absolute_error_sum.labels(*labels).inc(abs(row["last_close"] - actual))
            low, high = row.get("lower_80"), row.get("upper_80")
            if low is not None and high is not None and low <= actual <= high:
                self.interval_hits.labels(*labels).inc()

    def publish_drift(self, max_ks: float, max_volatility_ratio: float, checked: int, drifting: int) -> None:
        self.drift_ks.set(max_ks)
        self.volatility_ratio.set(max_volatility_ratio)
        self.drift_checked.set(checked)
        self.drift_high.set(drifting)
