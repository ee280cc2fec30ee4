"""Build the provisioned Grafana dashboards (grafana/dashboards/*.json) from the panel definitions below.

Run `python grafana/build_dashboards.py` after editing; tests fail when the committed JSON and this script differ.
Queries are plain PromQL (no template variables) so the Prometheus integration test can evaluate each one.
"""
import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from any folder: the thresholds live in the app package
    sys.path.insert(0, str(ROOT))

from app.thresholds import (  # noqa: E402
    API_JOB,
    API_SELECTOR,
    COVERAGE_80_HIGH,
    COVERAGE_80_LOW,
    HTTP_5XX_RATIO,
    HTTP_P95_LATENCY,
    INFERENCE_P95,
    INPUT_RETURNS_DRIFT,
    INPUT_VOLATILITY_SHIFT,
    MAPE_QUALITY_BAND,
    MODEL_WORSE_THAN_NAIVE,
    QUALITY_WINDOW_DAYS,
)

DASHBOARD_DIR = Path(__file__).resolve().parent / "dashboards"
# The uid grafana/provisioning/datasources/prometheus.yml fixes; exported dashboards' ${DS_...} inputs don't load.
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
SCHEMA_VERSION = 39
DASHED = {"mode": "dashed"}  # draw a panel's threshold as a dashed line


def alert_line(threshold):
    """Threshold steps that draw `threshold` (an app.thresholds entry): green below, red above."""
    return [("green", None), ("red", threshold.value)]


def _threshold_steps(steps):
    """Grafana threshold steps from (color, value) pairs; the first value is None (the base)."""
    return {"mode": "absolute", "steps": [{"color": color, "value": value} for color, value in steps]}


def timeseries(title, description, queries, unit, width, thresholds=None, thresholds_style=None, overrides=()):
    """A time series panel; `queries` are (PromQL, legend) pairs."""
    custom = {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10, "showPoints": "never",
              "spanNulls": False, "thresholdsStyle": thresholds_style or {"mode": "off"}}
    return {
        "type": "timeseries", "title": title, "description": description, "datasource": DATASOURCE,
        "gridPos": {"h": 8, "w": width},
        "fieldConfig": {"defaults": {"unit": unit, "custom": custom,
                                     "thresholds": _threshold_steps(thresholds or [("green", None)])},
                        "overrides": list(overrides)},
        "options": {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                    "tooltip": {"mode": "multi", "sort": "desc"}},
        "targets": [{"refId": chr(ord("A") + i), "datasource": DATASOURCE, "expr": expr, "legendFormat": legend,
                     "range": True} for i, (expr, legend) in enumerate(queries)],
    }


def stat(title, description, expr, unit, thresholds=None):
    """A single-value panel showing the latest value of one query."""
    return {
        "type": "stat", "title": title, "description": description, "datasource": DATASOURCE,
        "gridPos": {"h": 4, "w": 8},
        "fieldConfig": {"defaults": {"unit": unit, "thresholds": _threshold_steps(thresholds or [("green", None)])},
                        "overrides": []},
        "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                    "colorMode": "value", "graphMode": "area", "textMode": "auto"},
        "targets": [{"refId": "A", "datasource": DATASOURCE, "expr": expr, "legendFormat": "__auto",
                     "instant": False, "range": True}],
    }


API = API_SELECTOR
WINDOW = QUALITY_WINDOW_DAYS
NAIVE_DOTTED = {"matcher": {"id": "byRegexp", "options": "naive.*"},
                "properties": [{"id": "custom.lineStyle", "value": {"fill": "dot", "dash": [2, 6]}}]}


def health_panels():
    """Process health: totals from the recording rules, per-process panels on the raw process metrics."""
    return [
        stat("API worker processes", "Gunicorn workers currently exporting process metrics.",
             f"count(process_resident_memory_bytes{API})", unit="short"),
        stat("Total resident memory", "Resident memory of all API workers together.",
             f"job:process_resident_memory_bytes:sum{API}", unit="bytes"),
        stat("Total CPU (5m)", "CPU used by all API workers together (100% = one full core).",
             f"job:process_cpu_seconds:rate5m{API}", unit="percentunit"),
        timeseries("CPU per process (5m rate)",
                   "CPU seconds per second of each process (100% = one full core); spikes show expensive requests. "
                   "Prometheus's own process appears under job prometheus.",
                   [("rate(process_cpu_seconds_total[5m])", "{{job}} pid {{pid}}")], unit="percentunit", width=12),
        timeseries("Resident memory (RSS) per process",
                   "RAM held by each process; a line that only grows hints at a leak.",
                   [("process_resident_memory_bytes", "{{job}} pid {{pid}}")], unit="bytes", width=12),
        timeseries("GC objects collected per process (1m rate)",
                   "Objects the Python garbage collector frees per second, by worker and generation.",
                   [("rate(python_gc_objects_collected_total[1m])", "pid {{pid}} gen {{generation}}")],
                   unit="cps", width=12),
        timeseries("GC objects collected, all workers (1m rate)",
                   "Objects freed per second by generation, summed over the API workers.",
                   [(f"job_generation:python_gc_objects_collected:rate1m{API}", "gen {{generation}}")],
                   unit="cps", width=12),
    ]


def api_panels():
    """HTTP traffic, latency and errors of the API, from the api-http recording rules."""
    def latency(q):
        return f"job:http_request_duration_seconds:p{q}_5m{API}"
    return [
        stat("Requests per second (5m)", "All HTTP requests the API answered, per second.",
             f"job:http_requests:rate5m{API}", unit="reqps"),
        stat("p95 latency (5m)", f"95% of requests finished faster than this; the {HTTP_P95_LATENCY.alert} alert "
             f"fires above {HTTP_P95_LATENCY.shown()}.", latency(95), unit="s",
             thresholds=alert_line(HTTP_P95_LATENCY)),
        stat("5xx ratio (5m)", f"Share of requests that failed on the server side; {HTTP_5XX_RATIO.alert} fires above "
             f"{HTTP_5XX_RATIO.shown()}.", f"job:http_requests_5xx:ratio_rate5m{API}", unit="percentunit",
             thresholds=alert_line(HTTP_5XX_RATIO)),
        timeseries("Request rate by method and status (1m)", "HTTP requests per second, by method and status code.",
                   [(f"job_method_status:http_requests:rate1m{API}", "{{method}} {{status}}")], unit="reqps",
                   width=12),
        timeseries("Request rate by endpoint (5m)", "HTTP requests per second, by Flask route "
                   "(<unmatched> = paths that match no route).",
                   [(f"job_endpoint:http_requests:rate5m{API}", "{{endpoint}}")], unit="reqps", width=12),
        timeseries("Latency p50 / p95 / p99 (5m)", "Response time quantiles over all endpoints; the dashed line is "
                   f"the {HTTP_P95_LATENCY.shown()} {HTTP_P95_LATENCY.alert} alert threshold.",
                   [(latency(q), f"p{q}") for q in (50, 95, 99)], unit="s", width=12,
                   thresholds=alert_line(HTTP_P95_LATENCY), thresholds_style=DASHED),
        timeseries("5xx ratio (5m)", f"Server errors divided by all requests; the dashed line is the "
                   f"{HTTP_5XX_RATIO.shown()} {HTTP_5XX_RATIO.alert} alert threshold.",
                   [(f"job:http_requests_5xx:ratio_rate5m{API}", "5xx share")], unit="percentunit",
                   width=12, thresholds=alert_line(HTTP_5XX_RATIO), thresholds_style=DASHED),
        timeseries("p95 latency by endpoint (5m)", "Which routes are slow.",
                   [(f"job_endpoint:http_request_duration_seconds:p95_5m{API}", "{{endpoint}}")], unit="s",
                   width=24),
        row("Raw PromQL, without recording rules", [
            timeseries("Request rate (1m), raw", "sum(rate(http_requests_total[1m])) by (method, status).",
                       [("sum(rate(http_requests_total[1m])) by (method, status)", "{{method}} {{status}}")],
                       unit="reqps", width=12),
            timeseries("HTTP latency p95 (5m), raw", "The 95th percentile computed from the raw histogram buckets.",
                       [("histogram_quantile(0.95, sum(rate(http_request_duration_seconds_bucket[5m])) by (le))",
                         "p95")], unit="s", width=12),
        ]),
    ]


def model_panels():
    """Inference speed, throughput and forecast quality of the LSTM next to the naive baseline."""
    inference_raw = "histogram_quantile({q}, sum(rate(model_inference_duration_seconds_bucket[5m])) by (le))"
    by_model = "{{forecaster}} · {{source}}"
    quality = dict(overrides=[NAIVE_DOTTED])
    return [
        stat("Forecasts per second (5m)", "Successful forecast requests per second.",
             f"job:model_predictions:rate5m{API}", unit="reqps"),
        stat("Pending forecasts", "Registered forecasts not validated yet (their target date has not passed, "
             "or no close was found yet).", f"forecasts_pending{API}", unit="short"),
        stat("Last validation run", "When the validator last compared forecasts with realised closes "
             "(about 55 years ago = no run since the API started).",
             f"max(forecasts_last_validation_timestamp_seconds{API}) * 1000", unit="dateTimeFromNow"),
        timeseries("Inference latency p50 / p95 (5m)", "Time of one model forecast call; the dashed line is the "
                   f"{INFERENCE_P95.shown()} {INFERENCE_P95.alert} alert threshold.",
                   [(f"job:model_inference_duration_seconds:p50_5m{API}", "p50"),
                    (f"job:model_inference_duration_seconds:p95_5m{API}", "p95")], unit="s", width=12,
                   thresholds=alert_line(INFERENCE_P95), thresholds_style=DASHED),
        timeseries("Forecast rate (1m)", "Successful forecasts per second.",
                   [(f"job:model_predictions:rate1m{API}", "forecasts")], unit="reqps", width=12),
        timeseries(f"MAPE, LSTM vs naive and drift — quality band {MAPE_QUALITY_BAND:g}%",
                   "Mean absolute percentage error over the last day by source (backtest = one-step forecasts "
                   f"on each upload, validated = registered forecasts vs realised closes), plus the {WINDOW}-day "
                   "validated MAPE. Naive (last close) is dotted; the dashed line is the "
                   f"{MAPE_QUALITY_BAND:g}% quality band. It does not page: a 30-day forecast's MAPE is near 5% "
                   f"for naive too; the {MODEL_WORSE_THAN_NAIVE.alert} alert compares with naive instead.",
                   [(f"job_source_forecaster:model_prediction_mape:1d{API}", by_model + " (1d)"),
                    (f'job_source_forecaster:model_prediction_mape:{WINDOW}d{{job="{API_JOB}", source="validated"}}',
                     f"{{{{forecaster}}}} · validated ({WINDOW}d)")],
                   unit="percent", width=24, thresholds=[("green", None), ("red", MAPE_QUALITY_BAND)],
                   thresholds_style=DASHED, **quality),
        timeseries("Interval coverage by horizon (7d) beside the nominal 80% and 95%",
                   "Share of validated forecasts whose realised close fell inside their 80% and 95% intervals, per "
                   "horizon bucket (trading days ahead), over 7 days. Flat lines: the nominal levels. The dashed "
                   f"lines are the 80% band's alert limits ({COVERAGE_80_LOW:.0%}-{COVERAGE_80_HIGH:.0%}, "
                   "IntervalCoverageOutOfBand, from 50 forecasts).",
                   [(f"job_level_bucket:model_interval_coverage:7d{API}", "{{level}}% · h {{horizon_bucket}}"),
                    ("vector(0.80)", "nominal 80%"), ("vector(0.95)", "nominal 95%")],
                   unit="percentunit", width=12, thresholds_style=DASHED,
                   thresholds=[("red", None), ("green", COVERAGE_80_LOW), ("red", COVERAGE_80_HIGH)]),
        timeseries("Interval coverage, all horizons (7d and 30d)",
                   "Coverage of each level over all horizons; 30 days steadies the figure when few forecasts "
                   "are validated.",
                   [(f"job_level:model_interval_coverage:7d{API}", "{{level}}% (7d)"),
                    (f"job_level:model_interval_coverage:30d{API}", "{{level}}% (30d)")],
                   unit="percentunit", width=12),
        timeseries(f"rMAE vs naive and drift ({WINDOW}d) — alert above {MODEL_WORSE_THAN_NAIVE.value:g}",
                   "The LSTM's MAE divided by the baseline's on the same validated forecasts over 7 days: below 1 "
                   "the LSTM is better. Above 1 against naive (from 100 forecasts) the "
                   f"{MODEL_WORSE_THAN_NAIVE.alert} alert pages.",
                   [(f"job_source:model_prediction_rmae_vs_naive:7d{API}", "vs naive · {{source}}"),
                    (f"job_source:model_prediction_rmae_vs_drift:7d{API}", "vs drift · {{source}}")],
                   unit="none", width=24, thresholds=alert_line(MODEL_WORSE_THAN_NAIVE),
                   thresholds_style=DASHED),
        timeseries("MAE, LSTM vs naive (1d)", "Mean absolute error in price units; naive (last close) is dotted.",
                   [(f"job_source_forecaster:model_prediction_mae:1d{API}", by_model)], unit="currencyUSD",
                   width=12, **quality),
        timeseries("RMSE, LSTM vs naive (1d)", "Root mean squared error in price units (above MAE when a few "
                   "errors are large); naive (last close) is dotted.",
                   [(f"job_source_forecaster:model_prediction_rmse:1d{API}", by_model)], unit="currencyUSD",
                   width=12, **quality),
        timeseries("Latest absolute error, 1h average",
                   "avg_over_time(model_prediction_error_absolute[1h]): the mean absolute error of the latest "
                   "batch of LSTM forecasts compared with closes, averaged over an hour.",
                   [("avg_over_time(model_prediction_error_absolute[1h])", "{{source}}")], unit="currencyUSD",
                   width=12),
        timeseries("Validated vs pending forecasts", "Forecasts validated and registered in the last day, and "
                   "forecasts still waiting for their realised close.",
                   [(f"job:forecasts_validated:increase1d{API}", "validated (last 1d)"),
                    (f"forecasts_pending{API}", "pending"),
                    (f"job:forecasts_registered:increase1d{API}", "registered (last 1d)")], unit="short", width=12),
        row("Raw PromQL, without recording rules", [
            timeseries("Inference latency p50 / p95 (5m), raw", "Quantiles computed from the raw histogram buckets.",
                       [(inference_raw.format(q="0.50"), "p50"), (inference_raw.format(q="0.95"), "p95")],
                       unit="s", width=12),
            timeseries("Forecast rate (1m), raw", "sum(rate(model_predictions_total[1m])).",
                       [("sum(rate(model_predictions_total[1m]))", "forecasts")], unit="reqps", width=12),
        ]),
    ]


def model_version_panels():
    """Champion against challengers and naive on validated forecasts (7 days), and the drift watch."""
    by_version = "{{model_version}} · {{role}}"

    def per_version(name):
        return f"job_version_role:model_version_{name}:7d{API}"

    return [
        timeseries("Champion", "1 while a version serves as champion; a step is a promotion (or a rollback).",
                   [(f"max by (model_version) (model_champion{API})", "{{model_version}}")], unit="short", width=12),
        timeseries("Forecasts by version (5m)", "Forecasts per second per version: the champion's are answered, "
                   "the challengers' are shadow forecasts of the same requests.",
                   [(f"job_version_role:model_version_forecasts:rate5m{API}", by_version)], unit="reqps", width=12),
        timeseries("rMAE by version (7d)", "MAE divided by the naive forecast's MAE on the same validated forecasts "
                   "(below 1 beats the last close). Challengers shadow the champion's requests, so their lines "
                   "compare like with like.", [(per_version("rmae"), by_version)], unit="none", width=12),
        timeseries("MAE by version and naive (7d)", "Mean absolute error of each version's validated forecasts, "
                   "price units, with the naive forecast's on the same forecasts (dotted).",
                   [(per_version("mae"), by_version), (per_version("naive_mae"), "naive · " + by_version)],
                   unit="currencyUSD", width=12, overrides=[NAIVE_DOTTED]),
        timeseries("80% interval coverage by version (7d)", "Share of realised closes inside each version's 80% "
                   "interval; well calibrated is close to 80%.", [(per_version("coverage80"), by_version)],
                   unit="percentunit", width=12),
        timeseries("Drift: KS distance of recent returns", "Largest two-sample KS statistic between a ticker's "
                   "recent daily returns and the champion's training returns, at each validation run; the dashed "
                   f"line is the {INPUT_RETURNS_DRIFT.shown()} {INPUT_RETURNS_DRIFT.alert} alert threshold. "
                   "The monitoring page lists the tickers.",
                   [(f"max(input_drift_ks_max{API})", "largest KS")], unit="none", width=12,
                   thresholds=alert_line(INPUT_RETURNS_DRIFT), thresholds_style=DASHED),
        timeseries("Drift: recent / training volatility", "Largest ratio of a ticker's recent to the champion's "
                   f"training volatility; the dashed line is the {INPUT_VOLATILITY_SHIFT.alert} alert threshold "
                   f"({INPUT_VOLATILITY_SHIFT.shown()}).",
                   [(f"max(input_volatility_ratio_max{API})", "largest ratio")], unit="none", width=12,
                   thresholds=alert_line(INPUT_VOLATILITY_SHIFT), thresholds_style=DASHED),
        timeseries("Drift: tickers checked and drifting", "Tickers with enough recent closes for the drift watch, "
                   "and how many of them drifted (KS or volatility above its threshold).",
                   [(f"max(input_drift_tickers_checked{API})", "checked"),
                    (f"max(input_drift_tickers_drifting{API})", "drifting")], unit="short", width=12),
    ]


def row(title, panels):
    """A collapsed row holding `panels` (shown when the row is expanded)."""
    return {"type": "row", "title": title, "collapsed": True, "gridPos": {"h": 1, "w": 24}, "panels": panels}


def layout(panels, y=0, ids=None):
    """Give panels unique ids and flow them left to right into 24-column lines; rows start a new line."""
    ids = ids if ids is not None else iter(range(1, 1000))
    x = line_height = 0
    for panel in panels:
        pos = panel["gridPos"]
        if x + pos["w"] > 24 or panel["type"] == "row":
            x, y, line_height = 0, y + line_height, 0
        pos.update(x=x, y=y)
        panel["id"] = next(ids)
        x, line_height = x + pos["w"], max(line_height, pos["h"])
        if panel["type"] == "row":  # a collapsed row's panels sit below it once expanded
            layout(panel["panels"], y + 1, ids)
    return panels


def dashboard(uid, title, description, panels):
    """A complete dashboard model as Grafana's file provisioning loads it."""
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["stock-forecast"],
        "timezone": "browser",
        "editable": False,
        "graphTooltip": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "links": [{"title": "Stock forecast dashboards", "type": "dashboards", "tags": ["stock-forecast"],
                   "asDropdown": False, "includeVars": False, "keepTime": True, "targetBlank": False}],
        "annotations": {"list": []},
        "templating": {"list": []},
        "panels": layout(panels),
    }


def build_all():
    """{file name: dashboard model} for every provisioned dashboard."""
    return {
        "health.json": dashboard("health", "Health", "CPU, memory and garbage collection of each API process.",
                                 health_panels()),
        "api_performance.json": dashboard("api-performance", "API Performance",
                                          "Request rate, latency quantiles and server errors of the API.",
                                          api_panels()),
        "model_monitoring.json": dashboard("model-monitoring", "Model Monitoring",
                                           "Inference latency, forecast throughput and forecast errors of the "
                                           "LSTM next to the naive baseline.", model_panels()),
        "model_versions.json": dashboard("model-versions", "Model Versions",
                                         "Champion against challengers and the naive forecast on the same validated "
                                         "forecasts, promotions, and the drift of recent returns.",
                                         model_version_panels()),
    }


def render(model):
    """The exact text written to disk (stable key order, trailing newline)."""
    return json.dumps(model, indent=2, ensure_ascii=False) + "\n"


def main(argv=None):
    """Write (or with --check, compare) every dashboard file; exit 1 when --check finds a difference."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report files that differ from the script")
    parser.add_argument("--out", type=Path, default=DASHBOARD_DIR, help="output directory")
    args = parser.parse_args(argv)
    stale = []
    for name, model in build_all().items():
        path = args.out / name
        text = render(model)
        if args.check:
            if not path.is_file() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    if stale:
        print("out of date (run python grafana/build_dashboards.py): " + ", ".join(stale), file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
