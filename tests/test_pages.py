"""The HTML pages through the Flask test client: post/redirect/get, form errors, model card page, assets."""
import io
import json
import re

import pytest

from app.model_card import evaluation_rows
from app.services import services_of

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"


def post_form(client, data, **fields):
    files = {} if data is None else {"file": (io.BytesIO(data), "MSFT_data.csv")}
    return client.post("/", data={**files, **fields}, content_type="multipart/form-data")


def figure_of(html, chart_id):
    match = re.search(rf'id="{chart_id}"[^>]*data-figure=\'([^\']*)\'', html)
    return json.loads(match.group(1).replace("&#39;", "'"))


def test_the_form_redirects_to_the_forecasts_own_page(client, csv_bytes):
    response = post_form(client, csv_bytes(), horizon="5")
    assert response.status_code == 303
    location = response.location
    assert re.fullmatch(r"/forecasts/[0-9a-f]{32}", location)
    first, again = client.get(location), client.get(location)  # a reload reads the registry, never re-forecasts
    assert first.status_code == again.status_code == 200 and first.data == again.data
    assert client.get("/monitoring/performance").get_json()["pending"] == 5
    html = first.get_data(as_text=True)
    figure = figure_of(html, "forecast-chart")
    names = [trace["name"] for trace in figure["data"]]
    assert names == ["95% range", "95% range", "80% range", "80% range",
                     "Close", "Forecast"]
    assert len(figure["data"][4]["x"]) == 30 and len(figure["data"][5]["x"]) == 6  # last close + 5 days
    assert figure["layout"]["font"]["size"] >= 10 and figure["layout"]["hovermode"] == "x unified"
    assert "rMAE" in html and "tomorrow = today" in html and 'id="calendar">XNYS' in html


def test_the_same_forecast_again_lands_on_the_stored_page(client, csv_bytes):
    first = post_form(client, csv_bytes(), horizon="10").location
    shorter = post_form(client, csv_bytes(), horizon="4").location  # its days were stored by the first request
    assert shorter == first + "?horizon=4"
    html = client.get(shorter).get_data(as_text=True)
    assert html.count('<tr><td class="date">') == 4


@pytest.mark.parametrize("fields, status, heading, words", [
    ({}, 400, "Nothing to forecast", "Choose a CSV file"),
    ({"ticker": "MSFT", "horizon": "40"}, 400, "Horizon out of range", "from 1 to 30"),
    ({"ticker": "bad ticker!", "horizon": "3"}, 400, "Ticker not recognised", "is not a valid symbol"),
])
def test_form_errors_have_a_heading_a_sentence_and_keep_the_fields(client, fields, status, heading, words):
    response = post_form(client, None, **fields)
    html = response.get_data(as_text=True)
    assert response.status_code == status
    error = re.search(r'<section class="error" id="error".*?</section>', html, re.S).group(0)
    assert f'<h2 id="error-heading">{heading}</h2>' in error and words in error
    assert "multipart" not in error and "field 'file'" not in error
    if "ticker" in fields:
        assert f'value="{fields["ticker"]}"' in html and f'value="{fields["horizon"]}"' in html


def test_an_unreachable_price_source_is_worded_for_a_person_and_logged(client, monkeypatch, caplog):
    import downloadData.downloadData as dd

    def offline(symbol, start, end=None):
        raise dd.DownloadError(f"{symbol}: cannot reach Yahoo Finance (DNSError('curl: (6) Could not resolve host. "
                               "See https://curl.se/libcurl/c/libcurl-errors.html'))")

    monkeypatch.setattr(dd, "fetch_prices", offline)
    caplog.set_level("INFO", logger="app.api.pages")
    response = post_form(client, None, ticker="msft", horizon="7")
    html = response.get_data(as_text=True)
    assert response.status_code == 503
    assert "Prices could not be fetched" in html and "Yahoo Finance did not answer for MSFT" in html
    error = re.search(r'<section class="error" id="error".*?</section>', html, re.S).group(0)
    assert "curl" not in error and "DNSError" not in html and "https://" not in html
    assert 'value="msft"' in html and 'value="7"' in html
    request_id = response.headers["X-Request-ID"]
    assert request_id in html and any(request_id in r.message and "DNSError" in r.message for r in caplog.records)


def test_unknown_forecast_addresses_are_html_pages(client):
    for url, status in (("/forecasts/0123456789abcdef0123456789abcdef", 404), ("/forecasts/x?horizon=99", 400),
                        ("/forecasts/%3Cscript%3E", 404)):
        response = client.get(url)
        assert response.status_code == status and response.mimetype == "text/html"
        assert '<section class="error"' in response.get_data(as_text=True)


def test_the_model_card_is_a_page_for_browsers_and_json_for_programs(client):
    card = client.get("/model")
    assert card.mimetype == "application/json" and "evaluation" in card.get_json()
    assert client.get("/model", headers={"Accept": "application/json"}).mimetype == "application/json"
    page = client.get("/model", headers={"Accept": BROWSER_ACCEPT})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.mimetype == "text/html" and "Accept" in page.headers["Vary"]
    first = evaluation_rows(card.get_json())[0]  # one day ahead, as the card states it
    for fragment in ("GSPC_data.csv", "1999-01-04", "2016-01-04", 'id="evaluation"', 'id="by-horizon"',
                     f"{first['rmae']:.3f}", f"{first['rmae_drift']:.3f}", f"{first['coverage_80']:.1f}%",
                     f"{first['coverage_95']:.1f}%", 'src="/model/test_forecast.png"'):
        assert fragment in html, fragment
    plot = client.get("/model/test_forecast.png")
    assert plot.status_code == 200 and plot.data[:8] == b"\x89PNG\r\n\x1a\n"
    assert client.get("/model/model.json").status_code == 404  # only the plot the card names


def test_favicon_and_plotly_are_served_by_the_app(client):
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.data[:4] == b"\x00\x00\x01\x00"  # an ICO header
    plotly = client.get("/vendor/plotly.min.js")
    assert plotly.status_code == 200 and plotly.mimetype == "text/javascript"
    assert b"plotly.js" in plotly.data[:400] and len(plotly.data) > 1_000_000
    html = client.get("/").get_data(as_text=True)
    assert 'rel="icon" href="/favicon.ico"' in html and "cdn" not in html.lower()


def test_without_the_registry_the_forecast_is_shown_once_and_says_so(app, client, csv_bytes):
    services_of(app).registry.detach()  # as while the registry cannot be opened
    response = post_form(client, csv_bytes(), horizon="3")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="not-registered"' in html
    assert html.count('<tr><td class="date">') == 3 and len(figure_of(html, "forecast-chart")["data"][4]["x"]) == 30
