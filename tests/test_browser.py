"""A person in headless Chromium, at 1280 and 390 px: forecast, error, model card and monitoring pages.

Full-page screenshots land in tests/artifacts/ (git-ignored) for a person to look at.
"""
import re
from pathlib import Path

import pytest
import requests

from tests.server import forecasting_models, gunicorn_server, require_component

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "downloadData" / "data"
SCREENSHOTS = ROOT / "tests" / "artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WIDTHS = {"desktop": 1280, "phone": 390}
MIN_CHART_TEXT_PX = 10


@pytest.fixture(scope="module")
def browser():
    chromium = require_component("/usr/bin/chromium", "Chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("browser")
    with gunicorn_server(folder, workers=1, env={"VALIDATION_PRICE_SOURCE": "uploaded"}) as running:
        yield running


def history_file(tmp_path, name, rows=300, source="MSFT_data.csv"):
    """The last `rows` days of a shipped history, as a person would upload it."""
    lines = (DATA / source).read_text().splitlines()
    path = tmp_path / name
    path.write_text("\n".join([lines[0], *lines[-rows:]]) + "\n")
    return path


def open_page(browser, width, url):
    page = browser.new_page(viewport={"width": width, "height": 1600})  # tall: the chart is hovered unscrolled
    page.goto(url)
    return page


def assert_no_sideways_scroll(page):
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{page.url} scrolls sideways by {overflow} px"


def wait_for_charts(page):
    page.wait_for_function("[...document.querySelectorAll('.chart')].every(c => c.dataset.drawn === 'true')")


def chart_text_sizes(page, chart):
    return page.eval_on_selector_all(f"#{chart} .xtick text, #{chart} .ytick text, #{chart} .legendtext",
                                     "nodes => nodes.map(n => parseFloat(getComputedStyle(n).fontSize))")


def settled_box(page, locator):
    """The element's box once the chart stopped moving (plotly.js redraws when the page's width settles)."""
    box = locator.bounding_box()
    for _ in range(20):
        page.wait_for_timeout(250)
        again = locator.bounding_box()
        if again == box:
            return box
        box = again
    return box


def screenshot(page, name):
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.mark.parametrize("device", WIDTHS)
def test_forecast_page_has_its_own_address_and_a_readable_chart(browser, server, tmp_path, device):
    page = open_page(browser, WIDTHS[device], server.url + "/")
    assert_no_sideways_scroll(page)
    screenshot(page, f"home_{device}")
    posts = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    page.set_input_files("#file", str(history_file(tmp_path, "MSFT_data.csv")))
    page.fill("#horizon", "10")
    page.click("#submit")
    page.wait_for_url(re.compile(r".*/forecasts/[0-9a-f]{32}$"))
    wait_for_charts(page)
    address = page.url
    assert page.inner_text("#ticker") == "MSFT" and page.locator("#predictions tbody tr").count() == 10
    assert "2017-11-23" not in page.inner_text("#predictions")  # Thanksgiving is no trading day
    assert page.locator("#forecast-chart .xtick text").count() >= 3
    assert page.locator("#forecast-chart .ytick text").count() >= 3
    assert min(chart_text_sizes(page, "forecast-chart")) >= MIN_CHART_TEXT_PX
    marker = page.locator("#forecast-chart .scatterlayer .trace .points path").last  # the last forecast day
    box = settled_box(page, marker)
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, steps=5)
    # plotly.js throttles hover events: wait for the box of the point the mouse came to rest on.
    page.wait_for_function("document.querySelector('#forecast-chart .hoverlayer').textContent.includes('27 Nov 2017')")
    hover = "\n".join(page.eval_on_selector_all("#forecast-chart .hoverlayer text", "ns => ns.map(n => n.textContent)"))
    assert "Mon 27 Nov 2017" in hover and re.search(r"Forecast : 8\d\.\d\d", hover), hover
    # The hover shows the last forecast day's own bounds: the same numbers as that day's row in the table.
    last_row = page.locator("#predictions tbody tr").last.inner_text()
    for bound in ("95% range: high", "95% range: low", "80% range: high", "80% range: low"):
        value = re.search(rf"{bound} (\d+\.\d\d)", hover)
        assert value and value.group(1) in last_row, (bound, hover, last_row)
    assert_no_sideways_scroll(page)
    screenshot(page, f"result_{device}")
    page.reload()
    wait_for_charts(page)
    assert page.url == address and len(posts) == 1  # the reload asked for the page, it did not post the form again
    again = requests.get(address, timeout=10)
    assert again.status_code == 200 and "MSFT" in again.text  # a shared link shows the same forecast
    page.close()


@pytest.mark.parametrize("device", WIDTHS)
def test_an_error_keeps_what_was_typed(browser, server, tmp_path, device):
    bad = tmp_path / "notes.csv"
    bad.write_text("hello,world\n1,2\n")
    page = open_page(browser, WIDTHS[device], server.url + "/")
    page.set_input_files("#file", str(bad))
    page.fill("#ticker", "PETR4.SA")
    page.fill("#horizon", "12")
    page.click("#submit")
    page.wait_for_selector("#error")
    assert page.inner_text("#error-heading") == "The file could not be read"
    assert "Close" in page.inner_text("#error-message")
    assert page.input_value("#ticker") == "PETR4.SA" and page.input_value("#horizon") == "12"
    assert_no_sideways_scroll(page)
    screenshot(page, f"error_{device}")
    page.close()


@pytest.mark.parametrize("device", WIDTHS)
def test_model_card_page(browser, server, device):
    page = open_page(browser, WIDTHS[device], server.url + "/")
    page.click("text=Model card")
    page.wait_for_selector("#evaluation")
    assert page.url.endswith("/model") and "rMAE" in page.inner_text("#by-horizon")
    assert page.evaluate("document.getElementById('test-plot').naturalWidth") > 0
    assert_no_sideways_scroll(page)
    screenshot(page, f"model_card_{device}")
    page.close()


@pytest.fixture
def fresh_server(tmp_path):
    with gunicorn_server(tmp_path, workers=1, env={"VALIDATION_PRICE_SOURCE": "uploaded"}) as running:
        yield running


def test_monitoring_page_with_validated_historical_data(browser, fresh_server):
    server = fresh_server
    # Forecasts a new user makes from the shipped files, at three points of their history.
    for source, ticker in (("MSFT_data.csv", "MSFT"), ("GSPC_data.csv", "^GSPC")):
        lines = (DATA / source).read_text().splitlines()
        for end in (-45, -30, -15):
            csv = "\n".join([lines[0], *lines[end - 300:end]]) + "\n"
            response = requests.post(server.url + "/predict", files={"file": ("data.csv", csv)},
                                     data={"ticker": ticker, "horizon": "10"}, timeout=30)
            assert response.status_code == 200, response.text
    page = open_page(browser, WIDTHS["desktop"], server.url + "/monitoring")
    # The realised closes, uploaded on the page; GSPC first, as a person might type it.
    for name, typed in (("MSFT_data.csv", ""), ("GSPC_data.csv", "GSPC"), ("GSPC_data.csv", "^GSPC")):
        page.set_input_files("#actuals-form input[type=file]", str(DATA / name))
        page.fill("#actuals-form input[name=ticker]", typed)
        page.click("#actuals-form button")
        page.wait_for_function("document.getElementById('actuals-result').textContent.startsWith('Stored')")
        result = page.inner_text("#actuals-result")
        if typed == "GSPC":
            assert "there are forecasts for ^GSPC" in result, result
    page.fill("#validate-form input[name=days_back]", "36500")
    page.click("#validate-form button")
    page.wait_for_function("document.getElementById('validate-result').className === 'ok'")
    validated, due = map(int, re.match(r"Validated (\d+) of (\d+)", page.inner_text("#validate-result")).groups())
    assert validated == due == 60 * forecasting_models()  # 6 forecasts of 10 days, and each challenger's shadows
    page.wait_for_function("document.getElementById('card-validated').textContent === '60'")  # reloaded: answered
    for device, width in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(server.url + "/monitoring")
        wait_for_charts(page)
        assert "2017" in page.inner_text("#period-span")  # the period with data, not the last 30 days
        assert page.locator("#chart-mape .xtick text").count() >= 3
        assert min(chart_text_sizes(page, "chart-mape")) >= MIN_CHART_TEXT_PX
        assert_no_sideways_scroll(page)
        screenshot(page, f"monitoring_{device}")
    page.close()
