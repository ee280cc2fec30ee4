"""Forecast dates follow the exchange's trading days; the API names the calendar it used."""
import datetime as dt
import io

import pytest

from app.trading_days import calendar_name_for, next_sessions, previous_session, session_on_or_after, sessions_between

D = dt.date


@pytest.mark.parametrize("ticker, calendar", [
    ("MSFT", "XNYS"), (None, "XNYS"), ("UNKNOWN", "XNYS"), ("^GSPC", "XNYS"), ("^IXIC", "XNYS"), ("BRK-B", "XNYS"),
    ("PETR4.SA", "BVMF"), ("VOD.L", "XLON"), ("RY.TO", "XTSE"), ("SAP.DE", "XETR"), ("MC.PA", "XPAR"),
    ("0700.HK", "XHKG"), ("7203.T", "XTKS"), ("^FTSE", "XLON"), ("ABC.XX", "weekdays"), ("EURUSD=X", "weekdays"),
])
def test_the_calendar_comes_from_the_ticker_suffix(ticker, calendar):
    assert calendar_name_for(ticker) == calendar


@pytest.mark.parametrize("ticker, after, n, expected, calendar", [
    # Thanksgiving 2017 (23 Nov) is skipped; the day after is a session.
    ("MSFT", D(2017, 11, 10), 10, [D(2017, 11, 13), D(2017, 11, 14), D(2017, 11, 15), D(2017, 11, 16),
                                   D(2017, 11, 17), D(2017, 11, 20), D(2017, 11, 21), D(2017, 11, 22),
                                   D(2017, 11, 24), D(2017, 11, 27)], "XNYS"),
    ("^GSPC", D(2018, 12, 31), 2, [D(2019, 1, 2), D(2019, 1, 3)], "XNYS"),  # New Year's Day skipped
    ("VOD.L", D(2018, 12, 21), 3, [D(2018, 12, 24), D(2018, 12, 27), D(2018, 12, 28)], "XLON"),  # Boxing Day
    ("PETR4.SA", D(2019, 3, 1), 2, [D(2019, 3, 6), D(2019, 3, 7)], "BVMF"),  # Carnival Monday and Tuesday
    ("ABC.XX", D(2018, 12, 31), 2, [D(2019, 1, 1), D(2019, 1, 2)], "weekdays"),  # unknown: weekdays, says so
    ("MSFT", D(1960, 12, 30), 1, [D(1961, 1, 2)], "weekdays"),  # before the calendar's range
])
def test_next_sessions(ticker, after, n, expected, calendar):
    assert next_sessions(ticker, after, n) == (expected, calendar)


def test_registry_helpers_use_the_same_sessions():
    assert session_on_or_after("MSFT", D(2017, 11, 23)) == (D(2017, 11, 24), "XNYS")
    assert session_on_or_after("MSFT", D(2017, 11, 24)) == (D(2017, 11, 24), "XNYS")
    assert previous_session("MSFT", D(2017, 11, 24)) == D(2017, 11, 22)
    assert sessions_between("MSFT", D(2017, 11, 22), D(2017, 11, 27)) == 2
    assert sessions_between("ABC.XX", D(2017, 11, 22), D(2017, 11, 27)) == 3


def test_the_answer_names_the_calendar_and_skips_holidays(client, gspc_frame):
    data = gspc_frame.tail(300).to_csv(index=False).encode()  # ends 2018-12-31
    for ticker, calendar, first in (("^GSPC", "XNYS", "2019-01-02"), ("GSPC.XX", "weekdays", "2019-01-01")):
        response = client.post("/predict", data={"file": (io.BytesIO(data), "x.csv"), "ticker": ticker,
                                                 "horizon": "3"}, content_type="multipart/form-data")
        body = response.get_json()
        assert response.status_code == 200, body
        assert body["calendar"] == calendar and body["predictions"][0]["date"] == first


def test_a_registered_forecast_gets_its_horizon_step_in_sessions(client):
    # Made from the close of Wednesday 22 Nov 2017, for Monday 27 Nov: Thanksgiving is no step.
    response = client.post("/monitoring/register", json={"ticker": "MSFT", "made_at": "2017-11-22",
                                                         "target_date": "2017-11-27", "prediction_value": 84.0})
    assert response.status_code == 201
    forecast = client.get("/monitoring/performance").get_json()["recent"]["forecasts"][0]
    assert forecast["horizon_step"] == 2
