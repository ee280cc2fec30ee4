"""A real Prometheus scrapes the API under gunicorn (2 workers): every dashboard and rule query returns data.

Prometheus (Debian package `prometheus`) runs on a loopback port with a temporary storage dir, a 1 s scrape and
evaluation interval, prometheus/prometheus.yml with the api target pointed at the test server, and the real
rules. After traffic (forecasts, a 404, and a validation so "validated" series exist), each PromQL expression
of seed 003, of prometheus/rules and of grafana/dashboards/*.json is evaluated through the HTTP API.
"""
import datetime as dt
import json
import math
import re
import time
from pathlib import Path

import pandas as pd
import pytest
import requests
import yaml

from tests.prometheus_server import PROMETHEUS, PrometheusServer
from tests.server import champion_dir, gunicorn_server, require_component, require_model_artifact

ROOT = Path(__file__).resolve().parents[1]
# The server loads the champion of MODEL_STORE when set (as in `make run`), else the shipped store's.
MODEL_CARD = champion_dir() / "model.json"
TICKER = "ITEST"

# Seed 003, "Monitoramento & Dashboards Grafana", verbatim.
SEED_003_QUERIES = [
    "rate(process_cpu_seconds_total[5m])",
    "process_resident_memory_bytes",
    "rate(python_gc_objects_collected_total[1m])",
    "sum(rate(http_requests_total[1m])) by (method, status)",
    "histogram_quantile(\n  0.95,\n  sum(rate(http_request_duration_seconds_bucket[5m])) by (le)\n)",
    "histogram_quantile(\n  0.50,\n  sum(rate(model_inference_duration_seconds_bucket[5m])) by (le)\n)",
    "histogram_quantile(\n  0.95,\n  sum(rate(model_inference_duration_seconds_bucket[5m])) by (le)\n)",
    "sum(rate(model_predictions_total[1m]))",
    "avg_over_time(model_prediction_error_absolute[1h])",
]
# Grafana's built-in interval variables, as Grafana would substitute them for a short range.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "1h"}


def rule_queries():
    """(id, expr) for every rule: recording rules also by the name they record."""
    for path in sorted((ROOT / "prometheus" / "rules").glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if "record" in rule:
                    yield f"{path.name}:{rule['record']}", rule["expr"]
                    yield f"{path.name}:{rule['record']}:recorded", rule["record"]
                else:
                    yield f"{path.name}:{rule['alert']}", comparisons_as_bool(rule["expr"])


def comparisons_as_bool(expr):
    """Turn the comparisons of an alert expression into `bool` ones: the result is then non-empty whether or not
    the alert fires, as long as every series it needs exists (label matchers inside {} are left alone)."""
    out, depth, i = [], 0, 0
    while i < len(expr):
        ch = expr[i]
        if ch in "{}":
            depth += 1 if ch == "{" else -1
        elif ch == '"':
            end = expr.index('"', i + 1)
            out.append(expr[i:end + 1])
            i = end + 1
            continue
        elif depth == 0:
            match = re.match(r"(==|!=|>=|<=|>|<)(?!\s*bool)", expr[i:])
            if match:
                out.append(match.group(1) + " bool")
                i += len(match.group(1))
                continue
        out.append(ch)
        i += 1
    return "".join(out)


def dashboard_queries():
    """(id, expr) of every target of every panel in grafana/dashboards/*.json."""
    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("expr"), str) and node["expr"].strip():
                yield node["expr"]
            for value in node.values():
                yield from walk(value)
        elif isinstance(node, list):
            for item in node:
                yield from walk(item)

    for path in sorted((ROOT / "grafana" / "dashboards").glob("*.json")):
        for i, expr in enumerate(walk(json.loads(path.read_text()))):
            for variable, value in GRAFANA_VARIABLES.items():
                expr = expr.replace(variable, value)
            yield f"{path.name}#{i}", expr


def test_comparisons_as_bool_leaves_matchers_alone():
    expr = 'rate(x{status!="200", le=~"0.5|1"}[5m]) > 0.05 and on (job) y >= 5'
    assert comparisons_as_bool(expr) == 'rate(x{status!="200", le=~"0.5|1"}[5m]) > bool 0.05 and on (job) y >= bool 5'


def values_of(data):
    if data["resultType"] == "scalar":
        return [data["result"][1]]
    return [sample["value"][1] for sample in data["result"]]


def dated_history(gspc_frame, rows, last_day):
    """The last `rows` shipped S&P 500 days, re-dated to consecutive weekdays ending `last_day`."""
    frame = gspc_frame.tail(rows).copy()
    frame["Date"] = pd.bdate_range(end=last_day, periods=rows).strftime("%Y-%m-%d")
    return frame


def send_traffic(url, gspc_frame):
    """Forecasts on recent-looking dates, the closes that followed, a validation, and the other routes.

    Everything is sent twice with a scrape in between: a series is born with its first request, so rate()
    over its samples only sees the requests after that first scrape.
    """
    yesterday = pd.Timestamp(dt.date.today()) - pd.offsets.BDay(1)
    full = dated_history(gspc_frame, 320, yesterday)
    history = full.head(300).to_csv(index=False).encode()
    validations = []
    for round_ in range(2):
        for horizon in (5, 1, 2):
            response = requests.post(url + "/predict", data=history, timeout=30, headers={"Content-Type": "text/csv"},
                                     params={"ticker": TICKER, "horizon": horizon + round_})
            assert response.status_code == 200, response.text
        actuals = requests.post(url + "/monitoring/actuals", params={"ticker": TICKER}, timeout=30,
                                data=full.to_csv(index=False).encode(), headers={"Content-Type": "text/csv"})
        assert actuals.status_code == 200, actuals.text
        validation = requests.post(url + "/monitoring/validate", params={"days_back": 60}, timeout=30)
        assert validation.status_code == 200, validation.text
        validations.append(validation.json())
        assert requests.get(url + "/no/such/page", timeout=10).status_code == 404
        for path in ("/health", "/ready", "/model"):
            requests.get(url + path, timeout=10)
        time.sleep(1.5)  # > the 1 s scrape interval
    return validations[0]


@pytest.fixture()
def stack(tmp_path):
    require_component(PROMETHEUS, "Prometheus server")
    require_model_artifact(MODEL_CARD)
    with gunicorn_server(tmp_path, workers=2, env={"VALIDATION_PRICE_SOURCE": "uploaded"}) as api:
        prometheus = PrometheusServer(tmp_path, api.url.rsplit(":", 1)[1])
        try:
            prometheus.wait_until(lambda: requests.get(prometheus.url + "/-/ready", timeout=2).ok, "readiness")
            yield api, prometheus
        finally:
            prometheus.stop()


def test_every_query_returns_finite_data(stack, gspc_frame):
    api, prometheus = stack
    # Traffic only after the first scrape, so every counter increases inside the rate windows.
    prometheus.wait_until(lambda: values_of(prometheus.query('up{job="api"} == 1')), "the first api scrape")
    validation = send_traffic(api.url, gspc_frame)
    assert validation.get("validated", 0) > 0, validation

    queries = ([(f"seed003#{i}", q) for i, q in enumerate(SEED_003_QUERIES)] + list(rule_queries())
               + list(dashboard_queries()))
    recorded_after = time.time()

    def settled():
        # Two more scrapes and rule evaluations after the traffic.
        data = prometheus.query('timestamp(job:model_predictions:rate1m{job="api"})')
        return values_of(data) and float(values_of(data)[0]) > recorded_after + 2

    prometheus.wait_until(settled, "scrapes and rule evaluations after the traffic")
    failures = []
    for name, expr in queries:
        values = values_of(prometheus.query(expr))
        if not values or not all(math.isfinite(float(v)) for v in values):
            failures.append(f"{name}: {expr!r} -> {values}")
    assert not failures, "queries without finite data:\n" + "\n".join(failures)
    assert len(queries) > len(SEED_003_QUERIES) + 30
