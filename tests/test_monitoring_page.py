"""The monitoring page on historical data: period, windows named, why forecasts wait, unmatched uploads."""
import datetime as dt
import io
import re

import pandas as pd
import pytest

from app import create_app
from app.services import services_of


@pytest.fixture
def mon(tmp_path):
    app = create_app({"TESTING": True, "REGISTRY_PATH": str(tmp_path / "forecasts.sqlite3"), "DATABASE_URL": "",
                      "MONITORING_TOKEN": "", "VALIDATION_PRICE_SOURCE": "uploaded"})
    yield app, app.test_client()
    services_of(app).registry.close()


def forecast_history(client, gspc_frame, end_row, horizon=5):
    """A forecast made from the shipped S&P 500 history up to row end_row, as a new user would make one."""
    data = gspc_frame.iloc[end_row - 300:end_row].to_csv(index=False).encode()
    response = client.post("/predict", data={"file": (io.BytesIO(data), "GSPC_data.csv"), "horizon": str(horizon)},
                           content_type="multipart/form-data")
    assert response.status_code == 200, response.get_json()


def models_forecasting(app):
    """The champion and every challenger shadowing it: each registers its own forecast of a request."""
    return 1 + len(services_of(app).lineup.current().challengers)


def test_historical_forecasts_appear_in_the_default_period(mon, gspc_frame):
    app, client = mon
    for end_row in (-60, -40, -20):
        forecast_history(client, gspc_frame, end_row)
    upload = client.post("/monitoring/actuals", data={"file": (io.BytesIO(gspc_frame.to_csv(index=False).encode()),
                                                               "GSPC_data.csv")}, content_type="multipart/form-data")
    assert upload.status_code == 200 and "warning" not in upload.get_json()
    result = client.post("/monitoring/validate?days_back=36500").get_json()
    assert result["validated"] == 15 * models_forecasting(app), result  # the answers, and each challenger's shadow
    html = client.get("/monitoring").get_data(as_text=True)
    first, last = re.search(r'id="period-span">Target dates <strong>(\S+) to (\S+)</strong>', html).groups()
    # The period with data, years before today: the first forecast's first day to the last one's fifth day.
    assert (first, last) == (gspc_frame["Date"].iloc[-60], gspc_frame["Date"].iloc[-16])
    assert 'id="card-validated">15<' in html and 'id="chart-mape"' in html and "data-figure" in html
    banner = re.search(r'<p id="degradation".*?</p>', html, re.S).group(0)
    assert "last 7 days of the period" in banner and "No recent data" not in banner
    report = client.get("/monitoring/performance?period=data").get_json()
    assert report["period"]["from"] == first and report["period"]["to"] == last and report["metrics"]["n"] == 15
    assert client.get("/monitoring/performance").get_json()["period"] is None  # the JSON default is unchanged


def test_pending_forecasts_say_why_they_wait(mon):
    app, client = mon
    registry = services_of(app).registry.get()
    future = dt.date.today() + dt.timedelta(days=10)
    rows = [{"date": d, "close": 100.0} for d in (dt.date(2024, 7, 5), dt.date(2024, 7, 8), future)]
    registry.register_forecasts("MSFT", "2024-07-03", 99.0, rows, "v1", "r1", "h1")
    registry.record_actuals("MSFT", pd.Series([101.0], index=pd.DatetimeIndex(["2024-07-05"])))
    html = client.get("/monitoring?status=pending").get_data(as_text=True)
    reasons = re.findall(r'<span class="reason">([^<]*)</span>', html)
    assert reasons == ["target date in the future", "no close known yet for 2024-07-08",
                       "close known: the next validation will compare it"]


def test_actuals_for_no_forecast_warn_and_suggest_the_close_match(mon, gspc_frame):
    app, client = mon
    client.post("/monitoring/register", json={"ticker": "^GSPC", "target_date": "2018-12-31",
                                              "prediction_value": 2500.0})
    data = gspc_frame.tail(30).to_csv(index=False).encode()
    answer = client.post("/monitoring/actuals?ticker=GSPC", data=data, content_type="text/csv").get_json()
    assert answer["stored"] == 30
    assert answer["warning"] == ("no forecast for GSPC, so these closes validate nothing yet; "
                                 "there are forecasts for ^GSPC")
    again = client.post("/monitoring/actuals?ticker=^GSPC", data=data, content_type="text/csv").get_json()
    assert "warning" not in again


@pytest.mark.parametrize("query, words", [
    ("limit=500", "Limit must be a whole number from 5 to 50"),
    ("period=week", "Period must be one of data, 30, 90, 365"),
])
def test_bad_parameters_are_shown_on_the_page(mon, query, words):
    _, client = mon
    response = client.get(f"/monitoring?{query}")
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and response.mimetype == "text/html"
    assert words in re.search(r'<section class="error" id="param-problem".*?</section>', html, re.S).group(0)
    assert 'id="summary"' in html  # the default view below the message


def test_validation_reaches_as_far_back_as_the_api(mon):
    _, client = mon
    html = client.get("/monitoring").get_data(as_text=True)
    assert 'name="days_back" min="1" max="36500"' in html


def test_interval_coverage_and_both_baselines_are_shown_for_validated_forecasts(mon, gspc_frame):
    app, client = mon
    for end_row in (-60, -40, -20):
        forecast_history(client, gspc_frame, end_row)
    client.post("/monitoring/actuals", data={"file": (io.BytesIO(gspc_frame.to_csv(index=False).encode()),
                                                      "GSPC_data.csv")}, content_type="multipart/form-data")
    assert client.post("/monitoring/validate?days_back=36500").get_json()["validated"] == 15 * models_forecasting(app)
    report = client.get("/monitoring/performance?period=data").get_json()
    html = client.get("/monitoring").get_data(as_text=True)
    coverage = re.search(r'<table id="coverage">.*?</table>', html, re.S).group(0)
    cells = [re.sub(r"\s+", "", c) for c in re.findall(r'<td class="num[^"]*">(.*?)</td>', coverage, re.S)]
    first_bucket = report["coverage"]["by_bucket"][0]  # 1 day ahead: three forecasts, one per origin
    assert first_bucket["80"]["n"] == 3
    assert cells[:2] == ["3", f"{100 * first_bucket['80']['coverage']:.1f}%"]
    assert "80%" in cells[-2] and "95%" in cells[-1]  # the nominal row
    assert re.search(r'id="rmae-drift">\d\.\d{3}<', html), "the drift forecast is a baseline too"
    # The alarm speaks of the same days as the degradation banner: the last week of the period.
    assert (report["naive_alarm"]["from"], report["naive_alarm"]["to"]) == \
        (report["degradation"]["recent"]["from"], report["degradation"]["recent"]["to"])
    alarm = re.search(r'<p id="naive-alarm".*?</p>', html, re.S).group(0)
    assert "Too few forecasts to judge" in alarm and "100 forecasts" in alarm  # 15 validated, fewer than 100
