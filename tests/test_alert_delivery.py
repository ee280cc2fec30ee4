"""Alerts reach people: real Prometheus (project rules) -> real Alertmanager (project config) -> a chat webhook
and a mailbox, all on loopback.

Debian's `prometheus` and `prometheus-alertmanager` run with test-only short intervals (1 s scrapes and rule
evaluations, the degradation alert's `for` cut to 1 s, 1 s group wait/interval); a local HTTP server takes the
Slack-compatible webhook calls and aiosmtpd is the SMTP server. The API's forecasts are validated against
realised closes until the model-degradation alert fires, then until it clears; both notifications must arrive
through both receivers with the alert's summary and description as Prometheus rendered them.
"""
import datetime as dt
import os
import time

import pandas as pd
import pytest
import requests
import yaml

from app.thresholds import MODEL_WORSE_THAN_NAIVE, RMAE_ALARM_MIN_FORECASTS
from tests.alerting import (
    ALERTMANAGER,
    AMTOOL,
    Alertmanager,
    check_config,
    render,
    render_alertmanager_config,
    short_intervals,
    smtp_sink,
    text_of,
    webhook_receiver,
)
from tests.prometheus_server import PROMETHEUS, PrometheusServer
from tests.server import ROOT, gunicorn_server, require_component

RULES_DIR = ROOT / "prometheus" / "rules"

# --- The model-degradation alert, and how the API is driven to fire and to clear it ------------------------------
# Its expression compares the model with the realised closes (and the naive forecast): the model far off while
# the naive forecast is right fires it; many exact model forecasts while the naive one is off clear it. If the
# alert is renamed or measured differently, adapt these three.
DEGRADATION_ALERT = MODEL_WORSE_THAN_NAIVE.alert


def degrade_model(api_url):
    """More validated forecasts than the alert's minimum, 5% off the realised close while the naive forecast (the
    last close) is 0.1% off: the model's MAE is 50 times naive's."""
    validate_forecasts(api_url, "DEGRADE", days=RMAE_ALARM_MIN_FORECASTS + 20, model_error=0.05, naive_error=0.001)


def recover_model(api_url):
    """Exact validated forecasts while the naive forecast is 5% off, enough of them that the window's model MAE
    falls below naive's (rMAE 600 / 1012 after 120 bad and 200 exact forecasts)."""
    validate_forecasts(api_url, "RECOVER", days=200, model_error=0.0, naive_error=0.05)


def validate_forecasts(api_url, ticker, days, model_error, naive_error, close=100.0):
    """Register forecasts for the last `days` weekdays, upload the realised closes, validate them."""
    targets = pd.bdate_range(end=pd.Timestamp(dt.date.today()) - pd.offsets.BDay(1), periods=days)
    with requests.Session() as session:
        for target in targets:
            answer = session.post(api_url + "/monitoring/register", timeout=30, json={
                "ticker": ticker, "target_date": target.strftime("%Y-%m-%d"),
                "prediction_value": close * (1 + model_error), "last_close": close * (1 + naive_error)})
            assert answer.status_code == 201, answer.text
        closes = pd.DataFrame({"Date": targets.strftime("%Y-%m-%d"), "Open": close, "High": close, "Low": close,
                               "Close": close, "Volume": 1000})
        stored = session.post(api_url + "/monitoring/actuals", params={"ticker": ticker}, timeout=30,
                              data=closes.to_csv(index=False), headers={"Content-Type": "text/csv"})
        assert stored.status_code == 200, stored.text
        validated = session.post(api_url + "/monitoring/validate", params={"days_back": 400}, timeout=30)
        assert validated.status_code == 200 and validated.json()["validated"] == days, validated.text
# -------------------------------------------------------------------------------------------------------------------


@pytest.fixture
def webhook():
    with webhook_receiver() as receiver:
        yield receiver


@pytest.fixture
def mailbox():
    with smtp_sink() as sink:
        yield sink


def test_rendered_config_passes_amtool_check_config(tmp_path):
    require_component(AMTOOL, "amtool (Debian package prometheus-alertmanager)")
    out = check_config(render_alertmanager_config(tmp_path, "https://hooks.example.org/x", "smtp.example.org:587"))
    assert "1 inhibit rules" in out and "2 receivers" in out and "1 templates" in out


def test_render_refuses_a_missing_address(tmp_path):
    env = {key: value for key, value in os.environ.items() if not key.startswith("ALERT_")}
    result = render(env, tmp_path / "out.yml")
    assert result.returncode != 0 and "ALERT_EMAIL_TO" in result.stderr


def fast_rules(tmp_path):
    """The project's rule files, with the degradation alert's `for` cut to 1 s."""
    paths, found = [], False
    for source in sorted(RULES_DIR.glob("*.yml")):
        rules = yaml.safe_load(source.read_text())
        for group in rules["groups"]:
            for rule in group["rules"]:
                if rule.get("alert") == DEGRADATION_ALERT:
                    rule["for"], found = "1s", True
        paths.append(tmp_path / source.name)
        paths[-1].write_text(yaml.safe_dump(rules))
    assert found, f"no alert {DEGRADATION_ALERT} in {RULES_DIR}"
    return paths


def firing_alert(prometheus):
    response = requests.get(prometheus.url + "/api/v1/alerts", timeout=10).json()
    return next((a for a in response["data"]["alerts"]
                 if a["labels"]["alertname"] == DEGRADATION_ALERT and a["state"] == "firing"), None)


def test_degradation_alert_reaches_webhook_and_mailbox_then_resolves(tmp_path, webhook, mailbox):
    for path, what in ((PROMETHEUS, "Prometheus server"), (ALERTMANAGER, "Alertmanager (prometheus-alertmanager)"),
                       (AMTOOL, "amtool (prometheus-alertmanager)")):
        require_component(path, what)
    webhook_url, hooks = webhook
    smarthost, mails = mailbox
    config = short_intervals(render_alertmanager_config(tmp_path, webhook_url, smarthost))
    alertmanager = Alertmanager(tmp_path, config)
    try:
        with gunicorn_server(tmp_path, workers=2, env={"VALIDATION_PRICE_SOURCE": "uploaded"}) as api:
            prometheus = PrometheusServer(tmp_path, api.url.rsplit(":", 1)[1], rule_files=fast_rules(tmp_path),
                                          alertmanager=f"127.0.0.1:{alertmanager.port}")
            try:
                prometheus.wait_until(lambda: requests.get(prometheus.url + "/-/ready", timeout=2).ok, "readiness")
                prometheus.wait_until(lambda: prometheus.query('up{job="api"} == 1')["result"], "the first scrape")
                degrade_model(api.url)
                degraded_at = time.monotonic()
                prometheus.wait_until(lambda: firing_alert(prometheus), f"{DEGRADATION_ALERT} firing", timeout=60)
                fired_at = time.monotonic()
                alert = firing_alert(prometheus)
                summary, description = alert["annotations"]["summary"], alert["annotations"]["description"]

                def firing_hook(payload):
                    text = payload["attachments"][0]["text"]
                    return "[FIRING" in payload["attachments"][0]["title"] and summary in text and description in text

                hook_at, _ = hooks.wait_for(firing_hook, "firing webhook")
                mails.wait_for(lambda m: "[FIRING" in m["Subject"] and summary in text_of(m)
                               and description in text_of(m), "firing e-mail")
                print(f"\n{DEGRADATION_ALERT} (test timings: 1 s scrape and evaluation, for 1 s, 1 s group wait): "
                      f"validation -> chat webhook {hook_at - degraded_at:.2f} s, "
                      f"seen firing in Prometheus -> chat webhook {hook_at - fired_at:.2f} s")

                recover_model(api.url)
                resolved_hook = hooks.wait_for(lambda p: "[RESOLVED]" in p["attachments"][0]["title"]
                                               and f"Resolved: {summary}" in p["attachments"][0]["text"],
                                               "resolved webhook")
                resolved_mail = mails.wait_for(lambda m: "[RESOLVED]" in m["Subject"]
                                               and f"Resolved: {summary}" in text_of(m), "resolved e-mail")
                assert resolved_hook and resolved_mail
                assert resolved_mail[1]["To"] == "oncall@example.org"
            finally:
                prometheus.stop()
    finally:
        alertmanager.stop()
