"""A person in headless Chromium uploads a shipped CSV on / and sees the forecast and its chart."""
from pathlib import Path

import pytest

from tests.server import gunicorn_server, require_component

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "tests" / "artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    chromium = require_component("/usr/bin/chromium", "Chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def test_upload_form_shows_forecast_table_and_chart(browser, tmp_path):
    upload = tmp_path / "MSFT_data.csv"
    upload.write_text("\n".join((ROOT / "downloadData/data/MSFT_data.csv").read_text().splitlines()[-300:]))
    upload.write_text("Date,Open,High,Low,Close,Volume\n" + upload.read_text())
    with gunicorn_server(tmp_path, workers=1) as server:
        page = browser.new_page()
        page.goto(server.url + "/")
        page.set_input_files("#file", str(upload))
        page.fill("#horizon", "7")
        page.click("#submit")
        page.wait_for_selector("#forecast-chart")
        assert page.inner_text("#ticker") == "MSFT"
        assert page.locator("#predictions tbody tr").count() == 7
        assert page.locator("#forecast-chart polyline").count() == 2
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "forecast_page.png"), full_page=True)
        page.close()


def test_bad_upload_shows_the_error_on_the_form(browser, tmp_path):
    bad = tmp_path / "notes.csv"
    bad.write_text("hello,world\n1,2\n")
    with gunicorn_server(tmp_path, workers=1) as server:
        page = browser.new_page()
        page.goto(server.url + "/")
        page.set_input_files("#file", str(bad))
        page.click("#submit")
        page.wait_for_selector("#error")
        assert "Close" in page.inner_text("#error")
        page.close()
