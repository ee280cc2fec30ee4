"""Monitoring over HTTP: registration on /predict, the monitoring endpoints, the token, the page, the CLI."""
import datetime as dt
import io
import threading
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from werkzeug.serving import make_server

from app import create_app
from app.model_lineup import ModelLineup
from app.monitoring import __main__ as cli
from app.monitoring.prices import ChainSource, UploadedActualsSource, YFinanceSource
from app.services import services_of
from tests.conftest import post_file

TOKEN = "s3cret-token"


class StubPredictor:
    """A deterministic predictor (the artifact is tested elsewhere): +0.1 % per day ahead, fixed bands."""

    min_history, max_horizon, version, card = 30, 30, "stub-1", {"version": "stub-1"}

    def forecast(self, closes, horizon, adjustment=None):
        close = closes[-1] * (1 + 0.001 * np.arange(1, horizon + 1))
        return SimpleNamespace(close=close, lower_80=close * 0.98, upper_80=close * 1.02,
                               lower_95=close * 0.96, upper_95=close * 1.04, drift=np.full(horizon, closes[-1]))

    def forecast_with_backtest(self, closes, horizon, backtest_days, adjustment=None):
        n = min(backtest_days, len(closes) - self.min_history)
        return self.forecast(closes, horizon, adjustment), (closes[-n - 1:-1] * 1.001, closes[-n:]) if n > 0 else None


def offline_fetch(*args, **kwargs):
    raise ConnectionError("tests never touch the network")


def build_app(tmp_path, **config):
    app = create_app({"TESTING": True, "REGISTRY_PATH": str(tmp_path / "forecasts.sqlite3"),
                      "DATABASE_URL": "", "MONITORING_TOKEN": "", **config})
    services = services_of(app)
    services.lineup = ModelLineup({"stub-1": StubPredictor()}, "stub-1")
    services.price_source = lambda reg: ChainSource(UploadedActualsSource(reg), YFinanceSource(fetch=offline_fetch))
    return app


@pytest.fixture
def mon_app(tmp_path):
    return build_app(tmp_path)


@pytest.fixture
def mon_client(mon_app):
    return mon_app.test_client()


def recent_history(gspc_frame, rows=300, days_before_today=12):
    """Real S&P 500 closes re-dated so the history ends on a weekday `days_before_today` days ago."""
    end = pd.Timestamp(weekday_before(days_before_today))
    frame = gspc_frame.tail(rows).copy()
    frame["Date"] = pd.bdate_range(end=end, periods=rows).strftime("%Y-%m-%d")
    return frame


def csv_of(frame):
    return frame.to_csv(index=False).encode()


def weekday_before(days):
    day = dt.date.today() - dt.timedelta(days=days)
    while day.weekday() >= 5:
        day -= dt.timedelta(days=1)
    return day


# --- registration ---------------------------------------------------------------------------------------

def test_predict_registers_its_forecasts_once(mon_app, mon_client, gspc_frame):
    data = csv_of(recent_history(gspc_frame))
    first = post_file(mon_client, data, horizon="5").get_json()
    assert first["registered"] is True
    registry = services_of(mon_app).registry.get()
    rows = registry.pending()
    assert len(rows) == 5 and {r["ticker"] for r in rows} == {"GSPC"}
    assert [r["target_date"].isoformat() for r in rows] == [p["date"] for p in first["predictions"]]
    assert rows[0]["predicted"] == pytest.approx(first["predictions"][0]["close"])
    assert rows[0]["last_close"] == pytest.approx(first["last_close"])
    assert rows[0]["made_at"].isoformat() == first["last_date"]
    assert (rows[0]["request_id"], rows[0]["model_version"]) == (first["request_id"], "stub-1")
    for _ in range(3):  # the same forecast asked again is not registered again
        assert post_file(mon_client, data, horizon="5").status_code == 200
    assert registry.count_all() == 5
    post_file(mon_client, data, horizon="5", ticker="spx")  # another ticker is another forecast
    assert registry.counts("SPX")["pending"] == 5


def test_predict_then_actuals_then_validate_end_to_end(mon_app, mon_client, gspc_frame):
    history = recent_history(gspc_frame, rows=310, days_before_today=3)
    made_from, later = history.iloc[:-10], history.iloc[-10:]
    answer = post_file(mon_client, csv_of(made_from), horizon="5").get_json()
    upload = mon_client.post("/monitoring/actuals", data={"file": (io.BytesIO(csv_of(later)), "GSPC_data.csv")},
                             content_type="multipart/form-data")
    assert upload.status_code == 200 and upload.get_json()["stored"] == 10
    result = mon_client.post("/monitoring/validate?days_back=30")
    body = result.get_json()
    assert result.status_code == 200, body
    assert (body["validated"], body["pending_total"], body["by_source"]) == (5, 0, {"uploaded": 5})
    realised = later.set_index("Date")["Close"]
    expected_ape = [abs(p["close"] - realised[p["date"]]) / realised[p["date"]] * 100 for p in answer["predictions"]]
    report = mon_client.get("/monitoring/performance?status=validated").get_json()
    assert report["validated"] == 5 and report["metrics"]["mape"] == pytest.approx(np.mean(expected_ape))
    assert report["metrics"]["naive"]["n"] == 5
    text = mon_client.get("/metrics").get_data(as_text=True)
    assert "forecasts_validated_total 5.0" in text
    assert "forecasts_pending 0.0" in text
    assert 'model_prediction_errors_total{forecaster="lstm",source="validated"} 5.0' in text
    assert "forecasts_registered_total 5.0" in text


def test_register_endpoint_registers_once(mon_app, mon_client):
    body = {"ticker": "petr4.sa", "target_date": "2024-01-05", "prediction_value": 38.5, "last_close": 38.1,
            "request_id": "abc-1"}
    first = mon_client.post("/monitoring/register", json=body)
    assert first.status_code == 201
    answer = first.get_json()
    assert (answer["registered"], answer["ticker"], answer["made_at"]) == (True, "PETR4.SA", "2024-01-04")
    again = mon_client.post("/monitoring/register", json=dict(body, request_id="abc-2"))
    assert again.status_code == 200 and again.get_json()["duplicate"] is True
    rows = services_of(mon_app).registry.get().pending()
    assert len(rows) == 1 and (rows[0]["request_id"], rows[0]["horizon_step"]) == ("abc-1", 1)


@pytest.mark.parametrize("made_at, target", [
    ("2024-01-03", "2024-01-04"),  # Wednesday -> Thursday
    ("2024-01-05", "2024-01-08"),  # Friday -> Monday (not a holiday on any exchange calendar we use)
    ("2024-01-06", "2024-01-08"),  # a Saturday registration -> Monday
])
def test_register_without_target_date_targets_the_next_session_after_made_at(mon_app, mon_client, made_at, target):
    response = mon_client.post("/monitoring/register", json={"ticker": "MSFT", "prediction_value": 370.0,
                                                             "made_at": made_at})
    assert response.status_code == 201
    answer = response.get_json()
    assert (answer["made_at"], answer["target_date"], answer["target_date_chosen_by_server"]) == (
        made_at, target, True)
    assert answer["calendar"]  # the answer names the calendar that chose the date
    rows = services_of(mon_app).registry.get().pending()
    assert [(r["made_at"].isoformat(), r["target_date"].isoformat(), r["horizon_step"]) for r in rows] == [
        (made_at, target, 1)]


def test_register_without_dates_means_the_next_session_after_today(mon_client):
    from app.trading_days import next_sessions

    today = dt.date.today()
    answer = mon_client.post("/monitoring/register", json={"ticker": "MSFT", "prediction_value": 370.0}).get_json()
    (expected,), calendar = next_sessions("MSFT", today, 1)
    assert (answer["made_at"], answer["target_date"], answer["calendar"]) == (
        today.isoformat(), expected.isoformat(), calendar)
    assert today < expected <= today + dt.timedelta(days=7)


def test_register_with_target_date_keeps_it_and_says_the_client_chose_it(mon_client):
    answer = mon_client.post("/monitoring/register", json={"ticker": "MSFT", "prediction_value": 370.0,
                                                           "target_date": "2024-01-10"}).get_json()
    assert (answer["made_at"], answer["target_date"]) == ("2024-01-09", "2024-01-10")
    assert (answer["target_date_chosen_by_server"], answer["calendar"]) == (False, None)


@pytest.mark.parametrize("body, status, fragment", [
    (None, 400, "JSON object"),
    ({"target_date": "2024-01-05", "prediction_value": 1.0}, 400, "'ticker' is required"),
    ({"ticker": "<b>x</b>", "target_date": "2024-01-05", "prediction_value": 1.0}, 400, "not a valid symbol"),
    ({"ticker": "MSFT", "target_date": "2024-01-05"}, 400, "'prediction_value' is required"),
    ({"ticker": "MSFT", "target_date": "2024-01-05", "prediction_value": -3}, 400, "positive finite"),
    ({"ticker": "MSFT", "target_date": "2024-01-05", "prediction_value": "12"}, 400, "positive finite"),
    ({"ticker": "MSFT", "target_date": "2024-01-05", "prediction_value": True}, 400, "positive finite"),
    ({"ticker": "MSFT", "target_date": "2024-01-05", "prediction_value": 10 ** 400}, 400, "positive finite"),
    ({"ticker": "MSFT", "target_date": "２０２４-01-05", "prediction_value": 1.0}, 400, "YYYY-MM-DD"),
    ({"ticker": "MSFT", "target_date": "05/01/2024", "prediction_value": 1.0}, 400, "YYYY-MM-DD"),
    ({"ticker": "MSFT", "made_at": "05/01/2024", "prediction_value": 1.0}, 400, "'made_at' must be a date"),
    ({"ticker": "MSFT", "target_date": "2024-02-30", "prediction_value": 1.0}, 400, "YYYY-MM-DD"),
    ({"ticker": "MSFT", "target_date": "0001-01-01", "prediction_value": 1.0}, 400, "years 1800-2199"),
    ({"ticker": "MSFT", "target_date": "2024-01-05", "made_at": "9999-12-31", "prediction_value": 1.0}, 400,
     "years 1800-2199"),
    ({"ticker": "MSFT", "target_date": "2024-01-05", "made_at": "2024-01-05", "prediction_value": 1.0}, 400,
     "must be after made_at"),
    ({"ticker": "MSFT", "target_date": "2030-01-05", "made_at": "2024-01-05", "prediction_value": 1.0}, 400,
     "at most 400 days"),
    ({"ticker": "MSFT", "target_date": "2024-01-05", "prediction_value": 1.0, "last_close": 0}, 400,
     "'last_close' must be a positive"),
    ({"ticker": "MSFT", "target_date": "2024-01-05", "prediction_value": 1.0, "request_id": "a b"}, 400,
     "'request_id' must be 1 to 64"),
])
def test_register_rejects_bad_input_clearly(mon_client, body, status, fragment):
    response = (mon_client.post("/monitoring/register", data="not json", content_type="text/plain")
                if body is None else mon_client.post("/monitoring/register", json=body))
    assert response.status_code == status
    assert fragment in response.get_json()["message"]


# --- validation over HTTP -------------------------------------------------------------------------------

def test_validate_endpoint_uses_uploaded_closes_and_the_next_trading_day(mon_client):
    target, next_day = dt.date(2024, 7, 4), dt.date(2024, 7, 5)  # Independence Day: no NYSE session
    mon_client.post("/monitoring/register", json={"ticker": "MSFT", "target_date": target.isoformat(),
                                                  "prediction_value": 102.0, "last_close": 100.0})
    # No close on the target day itself (a holiday): the next session's close counts.
    mon_client.post("/monitoring/actuals?ticker=MSFT", data=f"Date,Close\n{next_day},104\n",
                    content_type="text/csv")
    body = mon_client.post("/monitoring/validate?days_back=36500").get_json()
    assert body["validated"] == 1 and "validated 1 of 1" in body["summary"]
    recent = mon_client.get("/monitoring/performance").get_json()["recent"]["forecasts"][0]
    assert (recent["actual"], recent["actual_date"], recent["status"]) == (104.0, next_day.isoformat(), "validated")
    assert recent["horizon_step"] == 1  # made from the close of 3 July, the session before


def test_a_later_close_does_not_stand_in_for_a_missing_session(mon_client):
    # 5 July 2024 was a NYSE session: without its close, the 8 July close must not validate the forecast.
    mon_client.post("/monitoring/register", json={"ticker": "MSFT", "target_date": "2024-07-05",
                                                  "prediction_value": 102.0, "last_close": 100.0})
    mon_client.post("/monitoring/actuals?ticker=MSFT", data="Date,Close\n2024-07-08,104\n", content_type="text/csv")
    body = mon_client.post("/monitoring/validate?days_back=36500").get_json()
    assert body["validated"] == 0 and body["still_pending"] == 1


def test_yfinance_failure_is_reported_not_raised(mon_client):
    mon_client.post("/monitoring/register", json={"ticker": "MSFT", "target_date": weekday_before(2).isoformat(),
                                                  "prediction_value": 102.0})
    body = mon_client.post("/monitoring/validate?days_back=7").get_json()
    assert body["validated"] == 0 and body["still_pending"] == 1
    assert body["errors"] == ["yfinance MSFT: ConnectionError: tests never touch the network"]


@pytest.mark.parametrize("query, fragment", [
    ("days_back=0", "from 1 to 36500"), ("days_back=abc", "whole number"), ("days_back=", "whole number"),
    ("days_back=36501", "from 1 to 36500")])
def test_validate_rejects_bad_days_back(mon_client, query, fragment):
    response = mon_client.post(f"/monitoring/validate?{query}")
    assert response.status_code == 400 and fragment in response.get_json()["message"]


@pytest.mark.parametrize("kwargs, status, fragment", [
    ({"data": "Date,Close\n2024-01-02,10\n", "content_type": "text/csv"}, 400, "say which stock"),
    ({"data": "", "content_type": "application/json"}, 400, "multipart field 'file'"),
    ({"data": "Date,Open\n2024-01-02,10\n", "content_type": "text/csv", "query_string": {"ticker": "MSFT"}},
     400, "Close"),
    ({"data": "x", "content_type": "image/png", "query_string": {"ticker": "MSFT"}}, 415, "content type"),
])
def test_actuals_rejects_bad_uploads(mon_client, kwargs, status, fragment):
    response = mon_client.post("/monitoring/actuals", **kwargs)
    assert response.status_code == status
    assert fragment in response.get_json()["message"]


# --- token ----------------------------------------------------------------------------------------------

WRITE_CALLS = [
    ("/monitoring/register", {"json": {"ticker": "MSFT", "target_date": "2024-01-05", "prediction_value": 1.0}}),
    ("/monitoring/validate", {}),
    ("/monitoring/actuals?ticker=MSFT", {"data": "Date,Close\n2024-01-02,10\n", "content_type": "text/csv"}),
]


@pytest.mark.parametrize("path, kwargs", WRITE_CALLS)
@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer"])
def test_write_endpoints_need_the_token_when_configured(tmp_path, path, kwargs, header):
    client = build_app(tmp_path, MONITORING_TOKEN=TOKEN).test_client()
    headers = {"Authorization": header} if header else {}
    response = client.post(path, headers=headers, **kwargs)
    assert response.status_code == 401
    assert response.get_json()["error"] == "unauthorized" and "Authorization: Bearer" in response.get_json()["message"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("path, kwargs", WRITE_CALLS)
def test_the_right_token_is_accepted(tmp_path, path, kwargs):
    client = build_app(tmp_path, MONITORING_TOKEN=TOKEN).test_client()
    response = client.post(path, headers={"Authorization": f"Bearer {TOKEN}"}, **kwargs)
    assert response.status_code in (200, 201), response.get_json()


def test_reads_stay_open_with_a_token(tmp_path):
    client = build_app(tmp_path, MONITORING_TOKEN=TOKEN).test_client()
    assert client.get("/monitoring/performance").status_code == 200
    page = client.get("/monitoring").get_data(as_text=True)
    assert 'type="password" name="token"' in page


# --- report and page ------------------------------------------------------------------------------------

@pytest.mark.parametrize("query, fragment", [
    ("status=done", "status must be one of all, validated, pending"),
    ("limit=4", "from 5 to 50"), ("limit=51", "from 5 to 50"), ("limit=ten", "whole number"),
    ("limit=%C2%B2", "whole number"), ("limit=%D9%A3%D9%A0", "whole number"),  # superscript 2, Arabic-Indic 30
    ("ticker=%3Cscript%3E", "not a valid symbol"), ("ticker=", "ticker is empty"), ("status=", "status must be"),
])
def test_performance_rejects_bad_parameters(mon_client, query, fragment):
    response = mon_client.get(f"/monitoring/performance?{query}")
    assert response.status_code == 400 and fragment in response.get_json()["message"]


def test_page_shows_every_section(mon_app, mon_client):
    registry = services_of(mon_app).registry.get()
    day = weekday_before(4)
    registry.register_forecasts("MSFT", day - dt.timedelta(days=1), 100.0, [{"date": day, "close": 106.0}],
                                "v1", "r1", "h1")
    registry.record_actuals("MSFT", pd.Series([100.0], index=pd.DatetimeIndex([day])))
    mon_client.post("/monitoring/validate")
    page = mon_client.get("/monitoring?status=validated&limit=5")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    for fragment in ('id="summary"', 'id="card-mape">6.00%', 'id="chart-mape"', "threshold 5%",
                     'id="chart-errors"', 'id="recent"', '<option value="validated" selected>', 'id="validate-form"',
                     "How monitoring works", "monitoring.js", "<strong>Degraded</strong>", 'id="per-ticker"',
                     f"Target dates <strong>{day} to {day}</strong>", 'id="min-max-error">6.00 / 6.00<'):
        assert fragment in html, fragment
    assert "<script>" not in html  # no inline script; the only script is the static file


def test_page_and_endpoints_answer_503_when_the_registry_is_unusable(tmp_path):
    (tmp_path / "blocker").write_text("")
    app = build_app(tmp_path, REGISTRY_PATH=str(tmp_path / "blocker" / "forecasts.sqlite3"))
    client = app.test_client()
    page = client.get("/monitoring")
    assert page.status_code == 503 and "registry is unavailable" in page.get_data(as_text=True)
    for response in (client.get("/monitoring/performance"), client.post("/monitoring/validate"),
                     client.post("/monitoring/register", json={"ticker": "MSFT", "target_date": "2024-01-05",
                                                               "prediction_value": 1.0})):
        assert response.status_code == 503 and response.get_json()["error"] == "registry_unavailable"
    assert client.get("/ready").status_code == 503
    assert client.get("/health").status_code == 200


# --- command line ---------------------------------------------------------------------------------------

def test_cli_validates_directly_on_the_database(tmp_path, monkeypatch, capsys):
    path = tmp_path / "forecasts.sqlite3"
    app = build_app(tmp_path, REGISTRY_PATH=str(path))
    client = app.test_client()
    client.post("/monitoring/register", json={"ticker": "MSFT", "target_date": weekday_before(3).isoformat(),
                                              "prediction_value": 102.0, "last_close": 100.0})
    client.post("/monitoring/actuals?ticker=MSFT",
                data=f"Date,Close\n{weekday_before(3)},101\n", content_type="text/csv")
    monkeypatch.setenv("REGISTRY_PATH", str(path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert cli.main(["validate", "--days-back", "7", "--offline"]) == 0
    assert capsys.readouterr().out.startswith("validated 1 of 1 due forecasts")
    assert cli.main(["report"]) == 0
    assert capsys.readouterr().out.strip() == "validated 1, pending 0, MAPE 0.990%, rMAE 1.000"


def test_flask_cli_commands_validate_report_and_close_the_registry(tmp_path):
    app = build_app(tmp_path)
    client = app.test_client()
    client.post("/monitoring/register", json={"ticker": "MSFT", "target_date": weekday_before(3).isoformat(),
                                              "prediction_value": 102.0, "last_close": 100.0})
    client.post("/monitoring/actuals?ticker=MSFT", data=f"Date,Close\n{weekday_before(3)},101\n",
                content_type="text/csv")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["monitoring", "validate", "--days-back", "7", "--offline"])
    assert result.exit_code == 0 and result.output.startswith("validated 1 of 1 due forecasts"), result.output
    result = runner.invoke(args=["monitoring", "report", "--ticker", "msft"])
    assert result.output.strip() == "validated 1, pending 0, MAPE 0.990%, rMAE 1.000"
    assert not services_of(app).registry.is_open  # closed when the command's app context ended
    result = runner.invoke(args=["monitoring", "validate", "--days-back", "0"])
    assert result.exit_code == 2 and "--days-back" in result.output


def test_cli_asks_a_running_api(tmp_path, capsys, monkeypatch):
    app = build_app(tmp_path, MONITORING_TOKEN=TOKEN)

    def no_app():
        raise AssertionError("asking the API must not build an app or open a database")

    monkeypatch.setattr(cli, "create_app", no_app)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    try:
        assert cli.main(["validate", "--api-url", url, "--token", TOKEN]) == 0
        assert capsys.readouterr().out.startswith("validated 0 of 0 due forecasts")
        assert cli.main(["validate", "--api-url", url, "--token", "wrong"]) == 1
        assert "answered 401" in capsys.readouterr().err
    finally:
        server.shutdown()
    assert cli.main(["validate", "--api-url", url]) == 1  # nobody listening: one line, exit 1
    assert "failed" in capsys.readouterr().err


def test_validate_now_button_in_a_browser(tmp_path):
    from tests.server import require_component

    chromium = require_component("/usr/bin/chromium", "Chromium")
    from playwright.sync_api import sync_playwright

    app = build_app(tmp_path, MONITORING_TOKEN=TOKEN)
    registry = services_of(app).registry.get()
    day = weekday_before(4)
    registry.register_forecasts("MSFT", day - dt.timedelta(days=1), 100.0, [{"date": day, "close": 101.0}],
                                "v1", "r1", "h1")
    registry.record_actuals("MSFT", pd.Series([100.0], index=pd.DatetimeIndex([day])))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, headless=True,
                                                 args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{server.server_port}/monitoring")
            assert page.inner_text("#card-pending") == "1"
            page.fill("#validate-form input[name=token]", "wrong")
            page.click("#validate-form button")
            page.wait_for_selector("#validate-result.error")
            assert "Authorization: Bearer" in page.inner_text("#validate-result")
            page.fill("#validate-form input[name=token]", TOKEN)
            page.click("#validate-form button")
            page.wait_for_selector("#validate-result.ok")
            assert page.inner_text("#validate-result").startswith("Validated 1 of 1")
            page.wait_for_function("document.getElementById('card-validated').textContent === '1'")  # reloaded
            browser.close()
    finally:
        server.shutdown()


def _gauge(client, name):
    lines = client.get("/metrics").get_data(as_text=True).splitlines()
    line = next(text for text in lines if text.startswith(name + " "))
    return float(line.split()[1])


def test_a_restarted_app_publishes_when_forecasts_were_last_validated(tmp_path):
    first = build_app(tmp_path).test_client()
    target = weekday_before(5)
    first.post("/monitoring/register", json={"ticker": "MSFT", "target_date": target.isoformat(),
                                             "prediction_value": 102.0, "last_close": 100.0})
    first.post("/monitoring/actuals?ticker=MSFT", data=f"Date,Close\n{target},104\n", content_type="text/csv")
    before = dt.datetime.now(dt.UTC).timestamp()
    assert first.post("/monitoring/validate").get_json()["validated"] == 1
    restarted = build_app(tmp_path).test_client()  # a new process reads the same registry
    assert before - 1 <= _gauge(restarted, "forecasts_last_validation_timestamp_seconds") <= before + 60
    assert _gauge(restarted, "forecasts_pending") == 0
