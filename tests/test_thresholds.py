"""The Prometheus rules use the coverage and degradation thresholds of app/thresholds.py, not copies of other values."""
from pathlib import Path

import yaml

from app import thresholds

RULES = Path(__file__).resolve().parents[1] / "prometheus" / "rules" / "model.yml"


def alert(name):
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") == name:
                return rule
    raise AssertionError(f"alert {name} missing")


def test_coverage_alert_uses_the_band_and_the_minimum_count():
    expr = " ".join(alert("IntervalCoverageOutOfBand")["expr"].split())
    assert f"coverage:7d{{job=\"api\", level=\"80\"}} < {thresholds.COVERAGE_80_LOW:.2f}" in expr
    assert f"coverage:7d{{job=\"api\", level=\"80\"}} > {thresholds.COVERAGE_80_HIGH:.2f}" in expr
    assert f">= {thresholds.COVERAGE_ALERT_MIN_FORECASTS}" in expr
    assert f"increase{thresholds.QUALITY_WINDOW_DAYS}d" in expr


def test_degradation_alarm_compares_with_naive_from_the_minimum_count():
    expr = " ".join(alert("ModelWorseThanNaive")["expr"].split())
    assert f"rmae_vs_naive:{thresholds.QUALITY_WINDOW_DAYS}d{{job=\"api\", source=\"validated\"}} > " \
           f"{thresholds.RMAE_ALARM:g}" in expr
    assert f">= {thresholds.RMAE_ALARM_MIN_FORECASTS}" in expr


def test_mape_no_longer_pages():
    alerts = [rule.get("alert") for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]
    assert "ModelMapeAboveThreshold" not in alerts
