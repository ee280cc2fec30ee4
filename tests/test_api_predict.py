"""POST /predict and the HTML form through the Flask test client: accepted inputs, answers, rejections."""
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from app.services import services_of
from tests.conftest import post_file

DATA = Path(__file__).parent / "data"


def test_multipart_upload_answers_a_forecast_with_intervals(client, csv_bytes):
    answer = post_file(client, csv_bytes(), horizon="5").get_json()
    assert answer["ticker"] == "GSPC"
    assert answer["last_date"] == "2018-12-31"
    assert len(answer["predictions"]) == 5
    assert answer["predicted_close"] == answer["predictions"][0]["close"]
    for p in answer["predictions"]:
        assert p["lower_95"] <= p["lower_80"] <= p["close"] <= p["upper_80"] <= p["upper_95"]
        assert abs(p["close"] / answer["last_close"] - 1) < 0.1
    dates = pd.to_datetime([p["date"] for p in answer["predictions"]])
    assert (dates.day_of_week < 5).all() and dates[0] > pd.Timestamp(answer["last_date"])
    assert answer["registered"] is True
    assert len(answer["request_id"]) == 32 and answer["processing_time_ms"] > 0


def test_text_csv_body_gives_the_same_forecast_as_multipart(client, csv_bytes):
    body = client.post("/predict?horizon=3&ticker=spx", data=csv_bytes(), content_type="text/csv").get_json()
    multipart = post_file(client, csv_bytes(), horizon="3", ticker="spx").get_json()
    assert body["ticker"] == "SPX"
    assert body["predictions"] == multipart["predictions"]


def test_served_forecast_is_the_predictors_own_output(app, client, csv_bytes):
    closes = pd.read_csv(io.BytesIO(csv_bytes()))["Close"].to_numpy()
    expected = services_of(app).predictor.forecast(closes, 4)
    answer = post_file(client, csv_bytes(), horizon="4").get_json()
    # rtol: float32 rounding differs between a batch of one window and the batch with the backtest windows
    np.testing.assert_allclose([p["close"] for p in answer["predictions"]], expected.close, rtol=1e-9)


@pytest.mark.parametrize("name", sorted(p.name for p in DATA.glob("*.csv")))
def test_every_real_world_csv_format_is_accepted(client, name):
    response = post_file(client, (DATA / name).read_bytes(), filename=name)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["predictions"][0]["close"] > 0


def _rows(csv_text_lines):
    return ("\n".join(csv_text_lines) + "\n").encode()


@pytest.mark.parametrize("data, status, code, fragment", [
    (b"", 400, "empty_file", "empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x01", 415, "not_csv", "PNG"),
    (_rows(["Date,Open,High"] + [f"2020-01-{d:02d},1,2" for d in range(1, 29)]), 400, None, "Close"),
    (_rows(["Date,Close"] + [f"2020-01-{d:02d},abc" for d in range(1, 29)]), 400, None, "not a number"),
    (_rows(["Date,Close"] + [f"2020-01-{d:02d},-5" for d in range(1, 29)]), 400, None, "positive"),
    (_rows(["Date,Close"] + [f"2020-01-{d:02d},{100 + d}" for d in range(1, 13)]), 400, "too_few_rows", "got 12"),
])
def test_bad_csv_gets_a_clear_4xx(client, data, status, code, fragment):
    response = post_file(client, data)
    body = response.get_json()
    assert response.status_code == status, body
    assert set(body) == {"error", "message"}
    assert code is None or body["error"] == code
    assert fragment.lower() in body["message"].lower()


@pytest.mark.parametrize("horizon", ["0", "31", "abc", "2.5", "-1", "\u00b2", "99999999999999999999"])
def test_bad_horizon_is_rejected_with_the_range(client, csv_bytes, horizon):
    response = post_file(client, csv_bytes(), horizon=horizon)
    assert response.status_code == 400
    assert response.get_json()["error"] == "bad_horizon"
    assert "1 to 30" in response.get_json()["message"]


def test_no_file_and_no_ticker_says_what_to_send(client):
    response = client.post("/predict", data={}, content_type="multipart/form-data")
    assert response.status_code == 400
    assert "file" in response.get_json()["message"] and "ticker" in response.get_json()["message"]


def test_wrong_content_type_is_415(client, csv_bytes):
    response = client.post("/predict", data=csv_bytes(), content_type="application/xml")
    assert response.status_code == 415
    assert "text/csv" in response.get_json()["message"]


def test_upload_over_the_limit_is_413_json(tmp_path, csv_bytes):
    from app import create_app

    small = create_app({"TESTING": True, "MAX_UPLOAD_MB": 0.01, "REGISTRY_PATH": str(tmp_path / "r.db")})
    response = post_file(small.test_client(), csv_bytes(2000))
    assert response.status_code == 413
    assert response.get_json()["error"] == "payload_too_large"
    assert "0.01 MB" in response.get_json()["message"]


def test_forecast_by_ticker_uses_the_download_fetch(client, monkeypatch, gspc_frame):
    import downloadData.downloadData as dd

    calls = []

    def fake_fetch(symbol, start, end=None):
        calls.append(symbol)
        return gspc_frame.tail(300).set_index(pd.to_datetime(gspc_frame.tail(300)["Date"])).drop(columns="Date")

    monkeypatch.setattr(dd, "fetch_prices", fake_fetch)
    answer = client.post("/predict", json={"ticker": "msft", "horizon": 2}).get_json()
    assert calls == ["MSFT"] and answer["ticker"] == "MSFT" and len(answer["predictions"]) == 2


def test_forecast_by_ticker_without_network_is_503(client, monkeypatch):
    import downloadData.downloadData as dd

    def offline(symbol, start, end=None):
        raise dd.DownloadError("could not reach Yahoo Finance: connection refused")

    monkeypatch.setattr(dd, "fetch_prices", offline)
    response = client.post("/predict", data={"ticker": "MSFT"})
    assert response.status_code == 503
    assert response.get_json()["error"] == "price_source_unavailable"
    assert "upload a CSV" in response.get_json()["message"]


def test_unexpected_failure_is_a_json_500_with_request_id_and_no_traceback(app, client, csv_bytes, caplog):
    def broken(closes, horizon, backtest_days, adjustment=None):
        raise RuntimeError("secret internals")

    services_of(app).predictor.forecast_with_backtest = broken
    response = post_file(client, csv_bytes())
    body = response.get_json()
    assert response.status_code == 500
    assert body["error"] == "internal_error" and len(body["request_id"]) == 32
    assert "secret" not in response.get_data(as_text=True)
    assert "secret internals" in caplog.text and body["request_id"] in caplog.text


def test_page_shows_the_forecast_and_its_chart(client, csv_bytes):
    response = client.post("/", data={"file": (io.BytesIO(csv_bytes()), "GSPC_data.csv"), "horizon": "5"},
                           content_type="multipart/form-data")
    assert response.status_code == 303 and response.location.startswith("/forecasts/")
    page = client.get(response.location)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'id="forecast-chart"' in html and html.count("<tr><td") == 5
    assert "2019-01-02" in html and "2019-01-01" not in html  # the file ends 2018-12-31; New Year's Day is no session


def test_page_escapes_what_it_echoes(client, csv_bytes):
    evil = "<script>alert(1)</script>"
    response = client.post("/", data={"file": (io.BytesIO(csv_bytes()), f"{evil}.csv"), "ticker": evil},
                           content_type="multipart/form-data")
    html = response.get_data(as_text=True).lower()
    assert response.status_code == 400
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_health_ready_and_model_card(client):
    assert client.get("/health").get_json() == {"status": "ok"}
    ready = client.get("/ready").get_json()
    card = client.get("/model").get_json()
    assert ready["status"] == "ready" and ready["model_version"] == card["version"]


def test_missing_model_makes_ready_503_and_predict_503_naming_the_file(tmp_path, csv_bytes):
    from app import create_app

    broken = create_app({"TESTING": True, "MODEL_STORE": str(tmp_path / "nowhere"),
                         "REGISTRY_PATH": str(tmp_path / "r.db")}).test_client()
    ready = broken.get("/ready")
    assert ready.status_code == 503 and "nowhere" in " ".join(ready.get_json()["reasons"])
    response = post_file(broken, csv_bytes())
    assert response.status_code == 503 and response.get_json()["error"] == "model_unavailable"


def test_the_same_prices_register_once_whatever_the_file_layout(client, csv_bytes):
    lf = csv_bytes()
    crlf = lf.replace(b"\n", b"\r\n")
    first = post_file(client, lf, horizon="3").get_json()
    again = post_file(client, crlf, horizon="3").get_json()
    assert first["predictions"] == again["predictions"]
    report = client.get("/monitoring/performance").get_json()
    assert report["pending"] == 3, report


def test_wrong_method_is_a_json_405_with_allow(client):
    response = client.get("/predict")
    assert response.status_code == 405
    assert "POST" in response.headers["Allow"] and response.get_json()["error"] == "method_not_allowed"


def test_forecast_by_unknown_ticker_is_404(client, monkeypatch):
    import downloadData.downloadData as dd

    def unknown(symbol, start, end=None):
        raise dd.DownloadError(f"{symbol}: Yahoo Finance has no prices for this ticker", unknown_ticker=True)

    monkeypatch.setattr(dd, "fetch_prices", unknown)
    response = client.post("/predict", json={"ticker": "NOSUCH1"})
    assert response.status_code == 404
    assert response.get_json()["error"] == "unknown_ticker" and "NOSUCH1" in response.get_json()["message"]
