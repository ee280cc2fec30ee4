"""app/thresholds.py is the one table of alert thresholds: the rules say the same, the dashboards draw them."""
import json
import re
from pathlib import Path

import pytest
import yaml

from app import thresholds
from app.config import settings_from_env
from app.monitoring.performance import DEFAULT_THRESHOLD_MAPE, DEFAULT_WINDOW_DAYS
from app.thresholds import (
    ALERT_THRESHOLDS,
    API_JOB,
    BAND_ALERTS,
    MAPE_QUALITY_BAND,
    MODEL_WORSE_THAN_NAIVE,
    QUALITY_WINDOW_DAYS,
)

ROOT = Path(__file__).resolve().parents[1]
DASHBOARDS = sorted((ROOT / "grafana" / "dashboards").glob("*.json"))
# The first "> number" of an alert's expression is the value it compares with its threshold.
FIRST_COMPARISON = re.compile(r">\s*(-?[0-9.]+(?:e-?[0-9]+)?)")


def alert_rules():
    """{alert name: rule} from every rule file."""
    return {rule["alert"]: rule for path in sorted((ROOT / "prometheus" / "rules").glob("*.yml"))
            for group in yaml.safe_load(path.read_text())["groups"] for rule in group["rules"] if "alert" in rule}


def rule_threshold(rule):
    match = FIRST_COMPARISON.search(rule["expr"])
    assert match, f"{rule['alert']}: no '> value' in its expression"
    return float(match.group(1))


def panels(dashboard):
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


def drawn_lines():
    """(dashboard, panel title, description, values drawn above the base step) for panels that draw a threshold."""
    for path in DASHBOARDS:
        for panel in panels(json.loads(path.read_text())):
            steps = panel.get("fieldConfig", {}).get("defaults", {}).get("thresholds", {}).get("steps", [])
            values = [step["value"] for step in steps if step["value"] is not None]
            if values:
                yield path.name, panel["title"], panel.get("description", ""), values


def test_every_comparing_alert_has_one_table_entry():
    rules = alert_rules()
    comparing = {name for name, rule in rules.items()
                 if FIRST_COMPARISON.search(rule["expr"]) and name not in BAND_ALERTS}
    table = [t.alert for t in ALERT_THRESHOLDS]
    assert len(table) == len(set(table)), "one entry per alert"
    assert comparing == set(table), "add the alert to app/thresholds.py (or remove the stale entry)"


@pytest.mark.parametrize("threshold", ALERT_THRESHOLDS, ids=lambda t: t.alert)
def test_alert_rule_uses_the_table_value_and_duration(threshold):
    rule = alert_rules()[threshold.alert]
    assert rule_threshold(rule) == pytest.approx(threshold.value), f"{threshold.alert} expression"
    assert rule["for"] == threshold.for_
    assert threshold.shown() in rule["annotations"]["summary"] + rule["annotations"]["description"], \
        f"{threshold.alert}: the alert's text should state its threshold as {threshold.shown()!r}"
    assert f'job="{API_JOB}"' in rule["expr"]


def band_limits(alert):
    """The (low, high) a band alert keeps its value within: read from the table."""
    assert alert == "IntervalCoverageOutOfBand"
    return [thresholds.COVERAGE_80_LOW, thresholds.COVERAGE_80_HIGH]


def line_mismatches(lines, rules):
    """What is wrong with each drawn line: it names no single alert, or differs from that alert's threshold.

    Two kinds of lines are not one alert's: a band alert's two limits, and the MAPE quality band (shown, never
    paging), which the description calls a "quality band".
    """
    problems = []
    for dashboard, title, description, values in lines:
        named = [name for name in rules if re.search(rf"\b{name}\b", description)]
        if "quality band" in description:
            if values != [pytest.approx(MAPE_QUALITY_BAND)]:
                problems.append(f"{dashboard} / {title} draws {values}; the MAPE quality band is {MAPE_QUALITY_BAND}")
        elif len(named) == 1 and named[0] in BAND_ALERTS:
            if values != [pytest.approx(v) for v in band_limits(named[0])]:
                problems.append(f"{dashboard} / {title} draws {values}; {named[0]}'s band is {band_limits(named[0])}")
        elif len(named) != 1:
            problems.append(f"{dashboard} / {title}: the description must name the one alert whose line it draws")
        elif values != [pytest.approx(rule_threshold(rules[named[0]]))]:
            problems.append(f"{dashboard} / {title} draws {values}; {named[0]} fires above "
                            f"{rule_threshold(rules[named[0]])}")
    return problems


def test_each_line_a_dashboard_draws_is_the_threshold_of_the_alert_it_illustrates():
    lines = list(drawn_lines())
    # p95 latency (stat and chart), 5xx ratio (stat and chart), inference p95, MAPE band, coverage band, rMAE
    assert len(lines) >= 8
    assert line_mismatches(lines, alert_rules()) == []


def test_coverage_alert_uses_the_band_and_the_minimum_count():
    expr = " ".join(alert_rules()["IntervalCoverageOutOfBand"]["expr"].split())
    assert f'coverage:{QUALITY_WINDOW_DAYS}d{{job="api", level="80"}} < {thresholds.COVERAGE_80_LOW:.2f}' in expr
    assert f'coverage:{QUALITY_WINDOW_DAYS}d{{job="api", level="80"}} > {thresholds.COVERAGE_80_HIGH:.2f}' in expr
    assert f">= {thresholds.COVERAGE_ALERT_MIN_FORECASTS}" in expr
    assert f"increase{QUALITY_WINDOW_DAYS}d" in expr


def test_degradation_alarm_compares_with_naive_over_the_window_from_the_minimum_count():
    expr = " ".join(alert_rules()[MODEL_WORSE_THAN_NAIVE.alert]["expr"].split())
    assert f'rmae_vs_naive:{QUALITY_WINDOW_DAYS}d{{job="api", source="validated"}} > ' \
           f"{MODEL_WORSE_THAN_NAIVE.value:g}" in expr
    assert f">= {thresholds.RMAE_ALARM_MIN_FORECASTS}" in expr


def test_mape_no_longer_pages():
    assert "ModelMapeAboveThreshold" not in alert_rules()


def test_app_defaults_read_the_table():
    settings = settings_from_env({})
    assert settings["MAPE_ALERT_THRESHOLD"] == DEFAULT_THRESHOLD_MAPE == MAPE_QUALITY_BAND
    assert settings["DEGRADATION_WINDOW_DAYS"] == DEFAULT_WINDOW_DAYS == QUALITY_WINDOW_DAYS


def test_a_line_that_differs_from_its_alert_is_reported():
    """The check above catches the old mistake: a 50 ms line for an alert that fires above 100 ms."""
    lines = [("model_monitoring.json", "Inference latency", "the 50 ms HighInferenceP95 alert threshold.", [0.05]),
             ("api_performance.json", "Latency", "the p95 alert threshold.", [0.5])]
    problems = line_mismatches(lines, alert_rules())
    assert len(problems) == 2
    assert "HighInferenceP95 fires above 0.1" in problems[0] and "name the one alert" in problems[1]
