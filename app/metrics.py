"""Every Prometheus metric of the API, defined in one place; `init_app` installs the HTTP hooks and /metrics.

HTTP metrics come from two small request hooks rather than prometheus-flask-exporter: its defaults name the
counter `http_request_total` with labels (method, status) only, and its per-view wrappers never see requests
that match no route (404/405), so neither gives `http_requests_total{method,endpoint,status}` counting every
request. Under gunicorn (PROMETHEUS_MULTIPROC_DIR set) values live in per-process files that /metrics merges.
"""
import time

import numpy as np
from flask import Response, g, request
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from app import process_metrics
from app.intervals import HORIZON_BUCKETS, LEVELS, horizon_bucket, level_key
from app.model_metrics import ModelVersionMetrics

UNMATCHED_ENDPOINT = "<unmatched>"
# Clients choose the method token; anything outside this set is counted as "other" to keep labels bounded.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
SOURCES = ("backtest", "validated")
FORECASTERS = ("lstm", "naive", "drift")
# 1 ms .. 10 s: a forecast request takes milliseconds, a ticker fetch from Yahoo seconds.
HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# 50 us .. 1 s with several buckets below 1 ms: the forward pass of one window takes well under a millisecond.
INFERENCE_BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0025, 0.005, 0.01, 0.025,
                     0.05, 0.1, 0.25, 0.5, 1.0)


class ApiMetrics:
    """The API's metrics, registered in `registry` (None in multiprocess mode, where files hold the values)."""

    def __init__(self, registry):
        http_labels = ("method", "endpoint", "status")
        error_labels = ("source", "forecaster")
        self.http_requests = Counter(
            "http_requests_total", "HTTP requests answered, by method, Flask url rule and status code.",
            http_labels, registry=registry)
        self.http_duration = Histogram(
            "http_request_duration_seconds", "Time to answer an HTTP request, by method, url rule and status.",
            http_labels, buckets=HTTP_BUCKETS, registry=registry)
        self.inference_duration = Histogram(
            "model_inference_duration_seconds",
            "Time of one model forecast call (all horizon steps, with the backtest windows batched into it).",
            buckets=INFERENCE_BUCKETS, registry=registry)
        self.predictions = Counter(
            "model_predictions_total", "Successful forecast requests.", registry=registry)
        # mostrecent: the value set last by any worker wins, and it survives that worker's exit.
        self.latest_batch_mae = Gauge(
            "model_prediction_error_absolute",
            "Mean absolute error (price units) of the latest batch of forecasts compared with realised closes.",
            ("source",), multiprocess_mode="mostrecent", registry=registry)
        self.compared = Counter(
            "model_prediction_errors_total", "Forecasts compared with a realised close.",
            error_labels, registry=registry)
        self.absolute_error_sum = Counter(
            "model_prediction_absolute_error_total", "Sum of absolute errors, price units.",
            error_labels, registry=registry)
        self.squared_error_sum = Counter(
            "model_prediction_squared_error_total", "Sum of squared errors, squared price units.",
            error_labels, registry=registry)
        self.percentage_error_sum = Counter(
            "model_prediction_absolute_percentage_error_total", "Sum of absolute percentage errors, percent.",
            error_labels, registry=registry)
        coverage_labels = ("level", "horizon_bucket")
        self.interval_checked = Counter(
            "model_interval_checked_total", "Validated forecasts whose interval was compared with the realised close.",
            coverage_labels, registry=registry)
        self.interval_inside = Counter(
            "model_interval_inside_total", "Validated forecasts whose realised close fell inside the interval.",
            coverage_labels, registry=registry)
        self.registered = Counter(
            "forecasts_registered_total", "Forecasts newly stored in the forecast registry.", registry=registry)
        self.validated = Counter(
            "forecasts_validated_total", "Forecasts validated against a realised close.", registry=registry)
        # Both describe the shared registry database, not a worker: the latest reading (mostrecent) and the
        # latest run (max, so an older timestamp written later by a slower worker cannot move it back).
        self.pending = Gauge(
            "forecasts_pending", "Registered forecasts not yet validated, as last read from the registry.",
            multiprocess_mode="mostrecent", registry=registry)
        self.last_validation = Gauge(
            "forecasts_last_validation_timestamp_seconds",
            "Unix time of the latest validation run (0 = none since the server started).",
            multiprocess_mode="max", registry=registry)
        self.models = ModelVersionMetrics(registry)
        # Children exist from the start at 0, so the first increase() after start-up is not lost.
        for source in SOURCES:
            for forecaster in FORECASTERS:
                for counter in (self.compared, self.absolute_error_sum, self.squared_error_sum,
                                self.percentage_error_sum):
                    counter.labels(source, forecaster)
        for level in LEVELS:
            for bucket, _, _ in HORIZON_BUCKETS:
                self.interval_checked.labels(level_key(level), bucket)
                self.interval_inside.labels(level_key(level), bucket)

    def track_models(self, lineup):
        """Label the lineup's versions by name, and follow its champion as promotions switch it."""
        def publish(current):
            self.models.track(lineup.versions(), current.champion.version)

        publish(lineup.current())
        lineup.on_switch.append(publish)

    def observe_request(self, method, endpoint, status, seconds):
        """Count one answered request and its duration (None when the start was not seen)."""
        method = method if method in KNOWN_METHODS else "other"
        self.http_requests.labels(method, endpoint, status).inc()
        if seconds is not None:
            self.http_duration.labels(method, endpoint, status).observe(seconds)

    def observe_inference(self, seconds):
        """Record the duration of one model forecast call."""
        self.inference_duration.observe(seconds)

    def count_prediction(self):
        """Count one successful forecast request."""
        self.predictions.inc()

    def record_errors(self, source, predicted, actual, naive, drift=None):
        """Add the errors of the model (lstm), of persistence (naive) and of drift against `actual` closes.

        Rows with a non-finite model, naive or actual value or a non-positive actual close are skipped (no
        percentage error exists), so lstm and naive always cover the same forecasts. Drift, when given, is
        counted on those rows where it is known (every forecast this service registers has it).
        """
        if source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
        drift = np.full(np.size(predicted), np.nan) if drift is None else drift
        predicted, actual, naive, drift = (np.asarray(a, dtype=float).ravel()
                                           for a in (predicted, actual, naive, drift))
        if not predicted.shape == actual.shape == naive.shape == drift.shape:
            raise ValueError(f"predicted, actual, naive and drift need equal lengths, got "
                             f"{predicted.size}, {actual.size}, {naive.size}, {drift.size}")
        usable = np.isfinite(predicted) & np.isfinite(actual) & np.isfinite(naive) & (actual > 0)
        if not usable.any():
            return
        with_drift = np.isfinite(drift[usable])
        actual, drift = actual[usable], drift[usable]
        for forecaster, forecast, observed in (("lstm", predicted[usable], actual),
                                               ("naive", naive[usable], actual),
                                               ("drift", drift[with_drift], actual[with_drift])):
            if not forecast.size:
                continue
            error = np.abs(forecast - observed)
            self.compared.labels(source, forecaster).inc(error.size)
            self.absolute_error_sum.labels(source, forecaster).inc(float(error.sum()))
            self.squared_error_sum.labels(source, forecaster).inc(float(np.square(error).sum()))
            self.percentage_error_sum.labels(source, forecaster).inc(float((100.0 * error / observed).sum()))
            if forecaster == "lstm":
                self.latest_batch_mae.labels(source).set(float(error.mean()))

    def record_coverage(self, horizon_steps, inside_by_level):
        """Count validated forecasts per level and horizon bucket, and those whose close fell inside.

        inside_by_level maps '80'/'95' to 1/0/None per forecast (None: no interval, not counted).
        """
        buckets = [horizon_bucket(int(step or 1)) for step in horizon_steps]
        for level, flags in inside_by_level.items():
            for bucket, flag in zip(buckets, flags, strict=True):
                if flag is None:
                    continue
                self.interval_checked.labels(level, bucket).inc()
                if flag:
                    self.interval_inside.labels(level, bucket).inc()

    def count_registered(self, n):
        """Count `n` forecasts newly stored in the registry (a bool counts as 0 or 1)."""
        if n and n > 0:
            self.registered.inc(int(n))

    def record_validation(self, validated_n, pending_n, timestamp):
        """Record one validation run: forecasts validated in it, pending left, and when it ran (unix time)."""
        if validated_n and validated_n > 0:
            self.validated.inc(int(validated_n))
        self.pending.set(pending_n)
        self.last_validation.set(timestamp)

    def publish_registry_state(self, pending_n, last_validation_timestamp=None):
        """Start the pending and last-validation gauges from the registry (at start-up), not at 0."""
        self.pending.set(pending_n)
        if last_validation_timestamp is not None:
            self.last_validation.set(last_validation_timestamp)


def init_app(app, registry=None) -> ApiMetrics:
    """Create the metrics for `app`, count every request, serve them on GET /metrics, and return them.

    The caller passes the returned object to what records into it (no lookup through the current app).

    Multiprocess mode (PROMETHEUS_MULTIPROC_DIR set) ignores `registry`: /metrics merges every worker's files.
    Otherwise metrics go to `registry`, by default a new one with the process, GC and platform collectors.
    """
    multiproc_dir = process_metrics.multiprocess_dir()
    if multiproc_dir:
        metrics = ApiMetrics(registry=None)
        exposed = process_metrics.multiprocess_registry(multiproc_dir)
        worker = process_metrics.WorkerProcessMetrics()
        worker.update()
    else:
        if registry is None:
            registry = CollectorRegistry()
            process_metrics.register_default_collectors(registry)
        metrics = ApiMetrics(registry)
        exposed, worker = registry, None
    _install_request_hooks(app, metrics, worker)
    app.add_url_rule("/metrics", "metrics", _metrics_view(exposed, worker), methods=["GET"])
    return metrics


def _install_request_hooks(app, metrics, worker):
    """Time each request from before_request to after_request, labelled by its url rule."""

    @app.before_request
    def _start_request_timer():
        g.metrics_request_started = time.perf_counter()

    @app.after_request
    def _count_request(response):
        started = g.pop("metrics_request_started", None)
        seconds = None if started is None else time.perf_counter() - started
        endpoint = request.url_rule.rule if request.url_rule is not None else UNMATCHED_ENDPOINT
        metrics.observe_request(request.method, endpoint, str(response.status_code), seconds)
        if worker is not None:
            worker.maybe_update()
        return response


def _metrics_view(exposed, worker):
    """The /metrics view: Prometheus text format 0.0.4 of `exposed`."""

    def serve_metrics():
        if worker is not None:
            worker.update()  # the scraping worker reports itself fresh
        return Response(generate_latest(exposed), headers={"Content-Type": CONTENT_TYPE_PLAIN_0_0_4})

    return serve_metrics
