"""Provisioned Grafana: datasource, dashboard provider, dashboard structure, and every queried metric exported."""
import datetime as dt
import importlib.util
import io
import json
import re
import subprocess
from pathlib import Path, PurePosixPath

import pandas as pd
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from app.services import services_of
from tests.server import missing_component, require_command

REPO = Path(__file__).resolve().parent.parent
GRAFANA = REPO / "grafana"
DASHBOARD_FILES = sorted((GRAFANA / "dashboards").glob("*.json"))
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
SAMPLE_CSV = REPO / "downloadData" / "data" / "GSPC_data.csv"
# Seed 003's dashboard queries; each must appear verbatim (ignoring whitespace) in some panel.
SEED_QUERIES = [
    "rate(process_cpu_seconds_total[5m])",
    "process_resident_memory_bytes",
    "rate(python_gc_objects_collected_total[1m])",
    "sum(rate(http_requests_total[1m])) by (method, status)",
    "histogram_quantile(0.95, sum(rate(http_request_duration_seconds_bucket[5m])) by (le))",
    "histogram_quantile(0.50, sum(rate(model_inference_duration_seconds_bucket[5m])) by (le))",
    "histogram_quantile(0.95, sum(rate(model_inference_duration_seconds_bucket[5m])) by (le))",
    "sum(rate(model_predictions_total[1m]))",
    "avg_over_time(model_prediction_error_absolute[1h])",
]
PROMQL_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool",
                   "offset", "inf", "nan", "atan2"}


def load_dashboard(path):
    return json.loads(path.read_text())


def flat_panels(dashboard):
    """Every panel, with the panels inside (collapsed) rows, rows themselves included."""
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


def query_panels(dashboard):
    return [p for p in flat_panels(dashboard) if p["type"] != "row"]


def all_queries():
    """(dashboard file name, panel title, expr) for every query of every dashboard."""
    return [(path.name, panel["title"], target["expr"]) for path in DASHBOARD_FILES
            for panel in query_panels(load_dashboard(path)) for target in panel["targets"]]


def metric_names(expr):
    """Metric (or recorded series) names a PromQL expression selects."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)       # string literals
    expr = re.sub(r"\{[^}]*\}", "", expr)                  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)                 # range and subquery windows
    expr = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", expr):
        before, after = expr[:match.start()], expr[match.end():].lstrip()
        if after.startswith("(") or match.group().lower() in PROMQL_KEYWORDS:
            continue  # a function call or an operator keyword
        if before and (before[-1].isdigit() or before[-1] == "."):
            continue  # exponent of a number literal such as 1e3
        names.add(match.group())
    return names


def recording_rules():
    """{recorded series name: expr} from prometheus/rules/*.yml."""
    rules = {}
    for path in sorted((REPO / "prometheus" / "rules").glob("*.yml")):
        for group in (yaml.safe_load(path.read_text()) or {}).get("groups", []):
            rules.update({rule["record"]: rule["expr"] for rule in group["rules"] if "record" in rule})
    return rules


def raw_metrics(expr, rules, seen=frozenset()):
    """Metrics the app must export for `expr` to have data, looking through recording rules."""
    found = set()
    for name in metric_names(expr):
        if name in rules and name not in seen:
            found |= raw_metrics(rules[name], rules, seen | {name})
        else:
            found.add(name)
    return found


def compose_service(name):
    return yaml.safe_load((REPO / "Docker" / "docker-compose.yml").read_text())["services"][name]


# --- helpers ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("expr, names", [
    ('sum by (job) (rate(http_requests_total{status=~"5.."}[5m])) or vector(0)', {"http_requests_total"}),
    ("histogram_quantile(0.95, sum(rate(x_bucket[5m])) by (le))", {"x_bucket"}),
    ("time() - max(ts_seconds{job=\"api\"}) * 1e3", {"ts_seconds"}),
    ("a:b:rate5m / on (job) group_left c", {"a:b:rate5m", "c"}),
])
def test_metric_names_are_extracted_from_promql(expr, names):
    assert metric_names(expr) == names


# --- dashboards ---------------------------------------------------------------------------------------------

def test_the_seed_dashboards_and_model_versions_are_provisioned():
    dashboards = [load_dashboard(path) for path in DASHBOARD_FILES]
    assert sorted(d["title"] for d in dashboards) == ["API Performance", "Health", "Model Monitoring",
                                                      "Model Versions"]
    assert len({d["uid"] for d in dashboards}) == len(dashboards)


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda p: p.name)
def test_dashboard_is_valid_provisionable_json(path):
    text = path.read_text()
    dashboard = json.loads(text)
    assert isinstance(dashboard["schemaVersion"], int) and dashboard["schemaVersion"] >= 36
    assert dashboard["uid"] and dashboard["title"] and dashboard["panels"]
    assert "__inputs" not in dashboard and "${" not in text, "exported-for-sharing JSON does not provision"
    panels = list(flat_panels(dashboard))
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    cells = set()
    for panel in panels:
        pos = panel["gridPos"]
        assert all(isinstance(pos[k], int) for k in ("h", "w", "x", "y")), panel["title"]
        assert pos["h"] > 0 and pos["w"] > 0 and pos["x"] >= 0 and pos["x"] + pos["w"] <= 24, panel["title"]
        mine = {(x, y) for x in range(pos["x"], pos["x"] + pos["w"]) for y in range(pos["y"], pos["y"] + pos["h"])}
        assert not cells & mine, f"panel {panel['title']!r} overlaps another"
        cells |= mine


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda p: p.name)
def test_panels_have_title_description_unit_and_queries(path):
    for panel in query_panels(load_dashboard(path)):
        assert panel["title"].strip() and panel["description"].strip(), panel
        assert panel["fieldConfig"]["defaults"]["unit"], panel["title"]
        ref_ids = [t["refId"] for t in panel["targets"]]
        assert ref_ids and len(ref_ids) == len(set(ref_ids)), panel["title"]


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda p: p.name)
def test_every_panel_uses_the_provisioned_datasource(path):
    for panel in query_panels(load_dashboard(path)):
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert all(t["datasource"] == DATASOURCE for t in panel["targets"]), panel["title"]


def test_queries_are_plain_promql_without_template_variables():
    for name, title, expr in all_queries():
        assert "$" not in expr.replace("$__rate_interval", ""), f"{name} / {title}: {expr}"


def test_queries_parse_as_promql(tmp_path):
    promtool = require_command("promtool", "prometheus")
    rules = [{"record": f"dashboard:query:{i}", "expr": expr} for i, (_, _, expr) in enumerate(all_queries())]
    rule_file = tmp_path / "dashboard_queries.yml"
    rule_file.write_text(yaml.safe_dump({"groups": [{"name": "dashboard-queries", "rules": rules}]}))
    result = subprocess.run([promtool, "check", "rules", str(rule_file)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_seed_003_queries_appear_verbatim():
    used = {re.sub(r"\s+", "", expr) for _, _, expr in all_queries()}
    missing = [q for q in SEED_QUERIES if re.sub(r"\s+", "", q) not in used]
    assert not missing


def test_recorded_series_used_by_dashboards_are_defined():
    rules = recording_rules()
    for name, title, expr in all_queries():
        for metric in metric_names(expr):
            if ":" in metric:
                assert metric in rules, f"{name} / {title} uses {metric}, which no rule in prometheus/rules records"


def test_generated_json_matches_the_builder_script():
    spec = importlib.util.spec_from_file_location("build_dashboards", GRAFANA / "build_dashboards.py")
    builder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builder)
    built = builder.build_all()
    assert sorted(built) == [p.name for p in DASHBOARD_FILES]
    for name, model in built.items():
        assert builder.render(model) == (GRAFANA / "dashboards" / name).read_text(), \
            f"{name} is stale: run python grafana/build_dashboards.py"
    assert builder.DATASOURCE == DATASOURCE


def _model_panel(word):
    dashboard = load_dashboard(GRAFANA / "dashboards" / "model_monitoring.json")
    (panel,) = [p for p in query_panels(dashboard) if p["title"].startswith(word)]
    return panel


def test_mape_panel_draws_the_quality_band_dashed_next_to_naive():
    """The line's value is checked against the table in tests/test_thresholds.py."""
    panel = _model_panel("MAPE")
    defaults = panel["fieldConfig"]["defaults"]
    assert defaults["custom"]["thresholdsStyle"]["mode"] == "dashed"
    assert "quality band" in panel["description"] and "ModelWorseThanNaive" in panel["description"]
    assert defaults["unit"] == "percent"
    assert all("{{forecaster}}" in t["legendFormat"] for t in panel["targets"]), "LSTM and naive side by side"
    alerts = [rule for path in (REPO / "prometheus" / "rules").glob("*.yml")
              for group in yaml.safe_load(path.read_text())["groups"] for rule in group["rules"] if "alert" in rule]
    assert not [a for a in alerts if "mape" in a["expr"]], "the MAPE band no longer pages"


def test_coverage_panel_shows_each_level_and_bucket_beside_the_nominal_lines():
    from app.thresholds import COVERAGE_80_HIGH, COVERAGE_80_LOW

    panel = _model_panel("Interval coverage by horizon")
    exprs = [t["expr"] for t in panel["targets"]]
    assert "job_level_bucket:model_interval_coverage:7d" in exprs[0]
    legend = panel["targets"][0]["legendFormat"]
    assert "{{level}}" in legend and "{{horizon_bucket}}" in legend
    assert {"vector(0.80)", "vector(0.95)"} <= set(exprs)
    steps = [step["value"] for step in panel["fieldConfig"]["defaults"]["thresholds"]["steps"]]
    assert COVERAGE_80_LOW in steps and COVERAGE_80_HIGH in steps


def test_model_dashboard_shows_validated_and_pending_forecasts():
    rules = recording_rules()
    panel = _model_panel("Validated vs pending")
    metrics = set().union(*(raw_metrics(t["expr"], rules) for t in panel["targets"]))
    assert {"forecasts_validated_total", "forecasts_pending"} <= metrics


# --- provisioning -------------------------------------------------------------------------------------------

def test_datasource_is_the_compose_prometheus_with_a_fixed_uid():
    (source,) = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())["datasources"]
    assert {"uid": source["uid"], "type": source["type"]} == DATASOURCE
    assert source["isDefault"] is True
    port = compose_service("prometheus")["ports"][0].split(":")[-1]
    assert source["url"] == f"http://prometheus:{port}"
    scrape_interval = yaml.safe_load((REPO / "prometheus" / "prometheus.yml").read_text())["global"]["scrape_interval"]
    assert source["jsonData"]["timeInterval"] == scrape_interval


def test_dashboard_provider_reads_the_mounted_dashboards():
    (provider,) = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "dashboards.yml").read_text())["providers"]
    mounts = {}
    for volume in compose_service("grafana")["volumes"]:
        source, target = volume.split(":")[:2]
        if source.startswith("."):
            mounts[(REPO / "Docker" / source).resolve()] = PurePosixPath(target)
    assert provider["type"] == "file"
    assert mounts[GRAFANA / "dashboards"] == PurePosixPath(provider["options"]["path"])
    assert mounts[GRAFANA / "provisioning"] == PurePosixPath("/etc/grafana/provisioning")


# --- every queried metric is exported by the app -------------------------------------------------------------

def _csv(frame):
    return frame.to_csv(index=False).encode()


@pytest.fixture(scope="module")
def exported_series(tmp_path_factory):
    """Sample names on a live /metrics after one forecast and, when the monitoring API exists, one validation."""
    try:
        from app import create_app
    except ImportError as exc:
        missing_component(f"app.create_app is not available yet: {exc}")
    folder = tmp_path_factory.mktemp("grafana_metrics")
    app = create_app({"TESTING": True, "REGISTRY_PATH": str(folder / "forecasts.sqlite3"), "DATABASE_URL": "",
                      "MONITORING_TOKEN": "", "VALIDATION_PRICE_SOURCE": "uploaded"})
    services = services_of(app)
    if services.predictor is None:
        missing_component(f"no trained model to forecast with ({services.model_error}); run make train")
    client = app.test_client()
    # 300 days of real closes, re-dated so they end four weeks ago and the forecasts are due now, then the next 20
    # real closes as the realised prices the validation compares them with.
    prices = pd.read_csv(SAMPLE_CSV).tail(320).reset_index(drop=True)
    dates = pd.bdate_range(end=dt.date.today() - dt.timedelta(days=1), periods=len(prices))
    prices["Date"] = dates.strftime("%Y-%m-%d")
    history, realised = prices.iloc[:300], prices.iloc[300:]
    answer = client.post("/predict", data={"file": (io.BytesIO(_csv(history)), "GSPC_data.csv"), "horizon": "5"},
                         content_type="multipart/form-data")
    assert answer.status_code == 200, answer.get_json()
    if any(rule.rule == "/monitoring/validate" for rule in app.url_map.iter_rules()):
        stored = client.post("/monitoring/actuals", data={"file": (io.BytesIO(_csv(realised)), "GSPC_data.csv")},
                             content_type="multipart/form-data")
        assert stored.status_code == 200, stored.get_json()
        validation = client.post("/monitoring/validate?days_back=60")
        assert validation.status_code == 200 and validation.get_json()["validated"] > 0, validation.get_json()
    text = client.get("/metrics").get_data(as_text=True)
    return {sample.name for family in text_string_to_metric_families(text) for sample in family.samples}


def test_every_metric_a_panel_queries_is_exported_by_the_app(exported_series):
    rules = recording_rules()
    missing = sorted({(name, title, metric) for name, title, expr in all_queries()
                      for metric in raw_metrics(expr, rules) if metric not in exported_series})
    assert not missing, f"queried but not on /metrics: {missing}"
