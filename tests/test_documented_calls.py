"""Every call documented by the two systems our users come from, replayed verbatim against this project.

Seed 000 (the Streamlit monitoring app and its API, "Fase 12: Sistema de Monitoramento") and seed 003 (the Flask
LSTM API, "Tech Challenge Fase 4"). Their HTTP calls go to the real server (gunicorn with the shared config and
the committed model, as `make run`), with Yahoo Finance replaced by a stand-in serving the shipped S&P 500
closes (tests/yahoo_stand_in): only the host and port of the documented URLs change.
"""
import datetime as dt
import html.parser
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests

from app.trading_days import next_sessions
from tests.server import ROOT, forecasting_models, gunicorn_server
from tests.test_docker import EXPECTED_PORTS
from tests.test_prometheus_integration import SEED_003_QUERIES
from tests.yahoo_stand_in.market import closes_on

STAND_IN = Path(__file__).parent / "yahoo_stand_in"

# Seed 000, "Como Testar" (its server listened on localhost:8000), verbatim: method, path, headers, body.
PREDICT_AUTO = ("POST", "/predict/auto", {"Content-Type": "application/json"}, '{"ticker":"B3SA3.SA"}')
PERFORMANCE = ("GET", "/monitoring/performance", {}, None)
VALIDATE = ("POST", "/monitoring/validate?days_back=7", {}, None)
# Seed 000, "POST /monitoring/register - Parâmetros: prediction_value, ticker, request_id", with the values of its
# "Previsões Recentes" example row (abc123, R$ 12.85).
REGISTER = ("POST", "/monitoring/register", {"Content-Type": "application/json"},
            '{"prediction_value": 12.85, "ticker": "B3SA3.SA", "request_id": "abc123"}')
# Seed 003, "Passo a Passo" and "Uso da API".
SEED_003_URLS = {"api": "http://localhost:5000", "prometheus": "http://localhost:9090",
                 "grafana": "http://localhost:3000"}
SEED_003_CSV_COLUMNS = ["Date", "Open", "High", "Low", "Close", "Volume"]
PROMQL_FUNCTIONS = {"histogram_quantile", "avg_over_time"}  # the other words with an underscore are metrics


def weekdays_before(day, n):
    """The n-th weekday before day."""
    return np.busday_offset(np.datetime64(day, "D"), -n, roll="forward").astype(dt.date)


@pytest.fixture
def market(tmp_path):
    """The stand-in's market: write a date (the latest close) or "offline" into it."""
    path = tmp_path / "market_day"

    def set_to(value):
        path.write_text(str(value))
    set_to("offline")
    set_to.path = path
    return set_to


@pytest.fixture
def server(tmp_path, market):
    """`make run`'s server (one worker, no token) with the Yahoo Finance stand-in."""
    env = {"PYTHONPATH": os.pathsep.join([str(STAND_IN), str(ROOT)]), "MARKET_DAY_FILE": str(market.path),
           "WEB_CONCURRENCY": "1", "MONITORING_TOKEN": "", "DATABASE_URL": ""}
    with gunicorn_server(tmp_path, workers=1, env=env) as running:
        yield running


def call(server, documented):
    method, path, headers, body = documented
    return requests.request(method, server.url + path, headers=headers, data=body, timeout=30)


def test_the_monitoring_walkthrough_forecast_register_report_validate(server, market):
    today = dt.date.today()
    made_from = weekdays_before(today, 4)  # the latest close when the forecast is asked for
    market(made_from)

    forecast = call(server, PREDICT_AUTO)
    assert forecast.status_code == 200, forecast.text
    answer = forecast.json()
    assert (answer["ticker"], answer["last_date"]) == ("B3SA3.SA", made_from.isoformat())
    # The next session: the next weekday, or a later one when the exchange's calendar has a holiday.
    target = dt.date.fromisoformat(answer["predictions"][0]["date"])
    assert weekdays_before(today, 3) <= target < today
    assert answer["registered"] is True and answer["processing_time_ms"] > 0
    assert answer["last_close"] == pytest.approx(closes_on(made_from)[made_from])
    # The alias is the forecast by ticker: /predict gives the same forecast (and registers nothing new).
    same = requests.post(server.url + "/predict", json={"ticker": "B3SA3.SA"}, timeout=30).json()
    assert same["predictions"] == answer["predictions"]

    registered = call(server, REGISTER)
    assert registered.status_code == 201, registered.text
    (next_session,), calendar = next_sessions("B3SA3.SA", today, 1)
    chosen = registered.json()
    assert (chosen["made_at"], chosen["target_date"], chosen["calendar"]) == (
        today.isoformat(), next_session.isoformat(), calendar)

    report = call(server, PERFORMANCE).json()
    assert (report["validated"], report["pending"]) == (0, 2)
    assert {(f["request_id"], f["predicted"], f["status"]) for f in report["recent"]["forecasts"]} == {
        (answer["request_id"], answer["predicted_close"], "pending"), ("abc123", 12.85, "pending")}

    market(weekdays_before(today, 1))  # the target day's session has closed
    validation = call(server, VALIDATE)
    assert validation.status_code == 200, validation.text
    # The answered forecast, and each challenger's shadow of it, are validated; the report shows the answered one.
    assert (validation.json()["validated"], validation.json()["pending_total"]) == (forecasting_models(), 1)

    report = call(server, PERFORMANCE).json()
    actual = closes_on(weekdays_before(today, 1))[target]
    error = abs(answer["predicted_close"] - actual)
    metrics = report["metrics"]
    assert (report["validated"], report["pending"], metrics["n"]) == (1, 1, 1)
    for name in ("mae", "rmse", "min_abs_error", "max_abs_error"):
        assert metrics[name] == pytest.approx(error), name
    for name in ("mape", "min_ape", "max_ape"):
        assert metrics[name] == pytest.approx(100 * error / actual), name
    assert [(day["date"], day["n"]) for day in report["history"]] == [(target.isoformat(), 1)]
    assert {f["status"] for f in report["recent"]["forecasts"]} == {"validated", "pending"}


def test_forecast_by_ticker_offline_is_the_same_clear_503_under_both_names(server, market):
    market("offline")
    auto = call(server, PREDICT_AUTO)
    predict = requests.post(server.url + "/predict", json={"ticker": "B3SA3.SA"}, timeout=30)
    assert auto.status_code == predict.status_code == 503
    assert auto.json() == predict.json()
    assert auto.json()["error"] == "price_source_unavailable"
    assert "upload a CSV instead or retry later" in auto.json()["message"]
    assert call(server, PERFORMANCE).json()["pending"] == 0  # nothing was forecast, nothing registered


def test_predict_auto_without_a_model_is_the_same_503_as_predict(tmp_path):
    from app import create_app

    broken = create_app({"TESTING": True, "MODEL_STORE": str(tmp_path / "nowhere"),
                         "REGISTRY_PATH": str(tmp_path / "r.db")}).test_client()
    method, path, headers, body = PREDICT_AUTO
    auto = broken.open(path, method=method, headers=headers, data=body)
    predict = broken.post("/predict", headers=headers, data=body)
    assert auto.status_code == predict.status_code == 503
    assert auto.get_json() == predict.get_json() and auto.get_json()["error"] == "model_unavailable"


class _Form(html.parser.HTMLParser):
    """The upload form's action, encoding and file field."""

    def __init__(self):
        super().__init__()
        self.form, self.file_input = None, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and self.form is None:
            self.form = attrs
        if tag == "input" and attrs.get("type") == "file":
            self.file_input = attrs


def test_the_upload_page_then_a_csv_with_the_documented_columns_gives_the_forecast(server, gspc_frame):
    page = requests.get(server.url + "/", timeout=30)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    form = _Form()
    form.feed(page.text)
    assert form.form["enctype"] == "multipart/form-data" and ".csv" in form.file_input["accept"]
    csv = pd.read_csv(ROOT / "downloadData" / "data" / "MSFT_data.csv").tail(300)
    assert list(csv.columns) == SEED_003_CSV_COLUMNS  # what downloadData writes, as the document says
    upload = {form.file_input["name"]: ("MSFT_data.csv", csv.to_csv(index=False).encode(), "text/csv")}

    as_json = requests.post(server.url + "/predict", files=upload, timeout=30)
    assert as_json.status_code == 200 and as_json.headers["Content-Type"] == "application/json"
    forecast = as_json.json()
    assert (forecast["ticker"], forecast["last_date"]) == ("MSFT", "2017-11-10")
    assert abs(forecast["predicted_close"] / forecast["last_close"] - 1) < 0.1

    shown = requests.post(server.url + (form.form.get("action") or "/"), files=upload, timeout=30)
    assert shown.status_code == 200
    assert f"<td class=\"num\">{forecast['predicted_close']:.2f}</td>" in shown.text


def test_every_metric_the_documented_grafana_queries_read_is_served(server, csv_bytes):
    requests.post(server.url + "/predict", files={"file": ("GSPC_data.csv", csv_bytes(), "text/csv")}, timeout=30)
    requests.get(server.url + "/health", timeout=30)
    exposed = requests.get(server.url + "/metrics", timeout=30).text
    names = {word for query in SEED_003_QUERIES for word in re.findall(r"\b[a-z]+(?:_[a-z]+)+\b", query)}
    names -= PROMQL_FUNCTIONS
    assert len(names) == 8
    missing = [name for name in sorted(names) if not re.search(rf"^{name}[{{ ]", exposed, re.MULTILINE)]
    assert missing == []


def test_the_documented_stack_urls_are_the_compose_files():
    # tests/test_docker.py checks Docker/docker-compose.yml publishes EXPECTED_PORTS; these are the URLs users have.
    assert {name: int(url.rsplit(":", 1)[1]) for name, url in SEED_003_URLS.items()} == EXPECTED_PORTS
    assert (ROOT / "Docker" / "docker-compose.yml").is_file()  # `cd Docker && docker-compose up --build` finds it


# The two scripts run from their own folders (`cd downloadData && python downloadData.py`,
# `cd modelTraining && python train_lstm.py`) are tested in tests/test_scripts.py.
