"""promtool validates prometheus/prometheus.yml and the rules, and runs the alert boundary unit tests."""
import re
import subprocess
from pathlib import Path

import yaml

from tests.server import require_command

ROOT = Path(__file__).resolve().parents[1]
PROMETHEUS_DIR = ROOT / "prometheus"
RULE_FILES = sorted(PROMETHEUS_DIR.glob("rules/*.yml"))
TEST_FILES = sorted(PROMETHEUS_DIR.glob("tests/*.yml"))
REQUIRED_ALERTS = {"ApiDown", "High5xxRatio", "HighP95Latency", "HighInferenceP95", "ModelWorseThanNaive",
                   "IntervalCoverageOutOfBand", "ForecastsNotValidatedRecently"}


def promtool():
    """Path of promtool (Debian package `prometheus`); skip without it, except under CI=true."""
    return require_command("promtool", "prometheus")


def run_promtool(*args):
    result = subprocess.run([promtool(), *args], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"promtool {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def all_rules():
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                yield path, rule


def test_config_is_valid():
    out = run_promtool("check", "config", "prometheus/prometheus.yml")
    assert f"{len(RULE_FILES)} rule files found" in out


def test_rules_are_valid():
    run_promtool("check", "rules", *(str(p.relative_to(ROOT)) for p in RULE_FILES))


def test_alert_boundaries():
    out = run_promtool("test", "rules", *(str(p.relative_to(ROOT)) for p in TEST_FILES))
    assert out.count("SUCCESS") == len(TEST_FILES)


def test_api_job_scrapes_the_compose_service_and_prometheus_itself():
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    targets = {job["job_name"]: [t for sc in job.get("static_configs", []) for t in sc["targets"]]
               + [f"{name}:{sd['port']}" for sd in job.get("dns_sd_configs", []) for name in sd["names"]]
               for job in config["scrape_configs"]}
    assert targets == {"api": ["api:5000"], "prometheus": ["localhost:9090"]}
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["alertmanager:9093"]
    assert config["rule_files"] == ["rules/*.yml"]


def test_every_alert_has_for_severity_summary_and_description():
    alerts = {rule["alert"]: rule for _, rule in all_rules() if "alert" in rule}
    assert set(alerts) >= REQUIRED_ALERTS
    for name, rule in alerts.items():
        assert rule.get("for"), name
        assert rule["labels"]["severity"] in {"warning", "critical"}, name
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], name


def test_every_alert_has_a_unit_test():
    tested = set(re.findall(r"alertname:\s*(\w+)", "".join(p.read_text() for p in TEST_FILES)))
    alerts = {rule["alert"] for _, rule in all_rules() if "alert" in rule}
    assert alerts <= tested


def test_header_comments_list_every_rule():
    """The Grafana dashboards are built from the names in each file's header; keep it complete."""
    for path in RULE_FILES:
        header = "".join(line for line in path.read_text().splitlines(True) if line.startswith("#"))
        for rule_path, rule in all_rules():
            if rule_path == path:
                assert (rule.get("record") or rule["alert"]) in header, (path.name, rule)
