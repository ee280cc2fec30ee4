"""Security: the token guards every monitoring write, no secrets are committed (detect-secrets), reflected input
never becomes markup, and clients cannot create metric series. The container user: tests/test_docker.py."""
import io
import random
import re
import string
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app import create_app
from tests.conftest import SAMPLE_CSV
from tests.test_model_versions import CHALLENGER

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "security-test-token"
SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
CSV = pd.read_csv(SAMPLE_CSV).tail(120).to_csv(index=False).encode()


@pytest.fixture
def guarded(tmp_path):
    """The real app with MONITORING_TOKEN set."""
    return create_app({"TESTING": True, "REGISTRY_PATH": str(tmp_path / "forecasts.sqlite3"), "DATABASE_URL": "",
                       "MONITORING_TOKEN": TOKEN, "VALIDATION_PRICE_SOURCE": "uploaded"})


# --- the token -----------------------------------------------------------------------------------------------------

WRITES = {  # every write endpoint with a request it accepts
    "/monitoring/register": dict(json={"ticker": "MSFT", "target_date": "2024-01-05", "prediction_value": 371.2}),
    "/monitoring/validate": dict(query_string={"days_back": "3"}),
    "/monitoring/actuals": dict(data={"file": (io.BytesIO(CSV), "MSFT_data.csv")}, content_type="multipart/form-data"),
    "/models/<version>/promote": dict(url=f"/models/{CHALLENGER}/promote"),
}


def _url(rule):
    return WRITES[rule].get("url", rule)


def _fresh(kwargs):
    """The request arguments with a new file object of the same content (a test client consumes it)."""
    kwargs = {k: v for k, v in kwargs.items() if k != "url"}
    data = kwargs.get("data")
    if isinstance(data, dict) and "file" in data:
        stream, name = data["file"]
        return {**kwargs, "data": {**data, "file": (io.BytesIO(stream.getvalue()), name)}}
    return kwargs


def _write_routes(app):
    """Routes that change stored state: anything but GET/HEAD/OPTIONS, except the public forecast endpoints."""
    return {rule.rule for rule in app.url_map.iter_rules()
            if rule.methods - {"GET", "HEAD", "OPTIONS"} and rule.rule not in {"/predict", "/predict/auto", "/"}}


def test_every_write_endpoint_is_listed_here(guarded):
    assert _write_routes(guarded) == set(WRITES), "a new write endpoint needs @require_token and a case in WRITES"


@pytest.mark.parametrize("path", sorted(WRITES))
@pytest.mark.parametrize("header", [None, "Bearer wrong-token", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer ",
                                    TOKEN], ids=["none", "wrong", "basic", "longer", "empty", "no-scheme"])
def test_write_without_the_token_is_401(guarded, path, header):
    headers = {"Authorization": header} if header is not None else {}
    response = guarded.test_client().post(_url(path), headers=headers, **_fresh(WRITES[path]))
    assert response.status_code == 401, response.get_data(as_text=True)
    assert response.get_json()["error"] == "unauthorized" and "Bearer" in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize("path", sorted(WRITES))
def test_write_with_the_token_is_accepted(guarded, path):
    response = guarded.test_client().post(_url(path), headers={"Authorization": f"Bearer {TOKEN}"},
                                          **_fresh(WRITES[path]))
    assert response.status_code in (200, 201), response.get_data(as_text=True)


def test_a_refused_write_changes_nothing(guarded):
    client = guarded.test_client()
    client.post("/monitoring/register", **_fresh(WRITES["/monitoring/register"]))
    client.post("/monitoring/actuals", **_fresh(WRITES["/monitoring/actuals"]))
    report = client.get("/monitoring/performance").get_json()
    assert report["pending"] == 0 and report["validated"] == 0


# --- secrets ---------------------------------------------------------------------------------------------------

# Generated artifacts and price data hold hashes and numbers by design (the model card's weights_sha256).
NOT_SCANNED = re.compile(r"^(app/models?/|downloadData/data/|tests/data/)")


def _tracked_files():
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    return [ROOT / name for name in out.decode().split("\0") if name]


def _secrets_in(paths):
    """detect-secrets' findings (default plugins and filters) as 'file:line type'.

    A line that must keep a credential-looking example says so with `pragma: allowlist secret` in a comment.
    """
    from detect_secrets import SecretsCollection
    from detect_secrets.settings import default_settings

    secrets = SecretsCollection(root=str(ROOT))
    with default_settings():
        secrets.scan_files(*[str(path) for path in paths])
    return [f"{name}:{found['line_number']} {found['type']}" for name, items in secrets.json().items()
            for found in items]


def test_no_env_files_or_key_files_are_tracked():
    names = [path.relative_to(ROOT).as_posix() for path in _tracked_files()]
    bad = [n for n in names if re.search(r"(^|/)\.env(\.|$)|\.(pem|key|p12|pfx)$|(^|/)id_(rsa|ed25519|ecdsa)", n)]
    assert not bad


def test_no_secrets_in_tracked_files():
    paths = [path for path in _tracked_files()
             if path.is_file() and not NOT_SCANNED.match(path.relative_to(ROOT).as_posix())]
    assert not _secrets_in(paths)


def test_the_secret_scanner_finds_planted_secrets(tmp_path):
    planted = tmp_path / "settings.yml"
    # Assembled at run time so that this file itself stays clean.
    planted.write_text("\n".join([
        "aws_access_key_id: " + "AKIA" + "QWERTYUIOPASDFGH",
        "database: postgresql://forecast:" + "Xk29fjq1Zp@db.internal/forecasts",
        "db_password: " + "'t0p-s3cret-Value'",
        "quiet: ${GRAFANA_ADMIN_PASSWORD:-admin}",
    ]) + "\n")
    found = _secrets_in([planted])
    assert {line.split(":", 2)[1].split()[0] for line in found} >= {"1", "2", "3"}, found
    assert not any(line.split(":", 2)[1].startswith("4 ") for line in found), found


# --- reflected XSS ---------------------------------------------------------------------------------------------

def _no_raw_markup(response):
    text = response.get_data(as_text=True).lower()
    assert "<script>alert(1)" not in text and "<img src=x" not in text, text[:500]
    return text


@pytest.mark.parametrize("fields", [
    {"ticker": SCRIPT},
    {"ticker": IMG, "horizon": "5"},
    {"horizon": SCRIPT},
    {"file": (io.BytesIO(CSV), f"{SCRIPT}.csv"), "ticker": IMG},
    {"file": (io.BytesIO(b""), f"{IMG}_data.csv")},  # the empty-file message quotes the file name
    {"file": (io.BytesIO(f"Date,Close\n{SCRIPT},1\n".encode()), "x.csv")},  # a cell quoted in the message
], ids=["ticker-script", "ticker-img", "horizon", "file-name-and-ticker", "empty-file-name", "csv-cell"])
def test_the_form_page_escapes_what_it_echoes(app, fields):
    response = app.test_client().post("/", data=fields, content_type="multipart/form-data")
    assert 400 <= response.status_code < 500 and response.mimetype == "text/html"
    assert "&lt;" in _no_raw_markup(response)  # echoed, but as text


ECHOING_JSON_ERRORS = [  # JSON errors whose message quotes what the client sent
    ("POST", "/predict", dict(data={"ticker": SCRIPT})),
    ("POST", "/predict", dict(data={"file": (io.BytesIO(b""), f"{IMG}.csv")}, content_type="multipart/form-data")),
    ("POST", "/predict", dict(data=f"Date,Close\n{SCRIPT},1\n", content_type="text/csv")),
    ("GET", f"/monitoring/performance?ticker={IMG}", {}),
]
ERROR_IDS = ["predict-ticker", "predict-file-name", "predict-csv-cell", "report-ticker"]


@pytest.mark.parametrize("url", [f"/monitoring?ticker={SCRIPT}", f"/monitoring?status={SCRIPT}",
                                 f"/monitoring?period={IMG}"], ids=["ticker", "status", "period"])
def test_the_monitoring_page_shows_bad_parameters_escaped(app, url):
    response = app.test_client().get(url)
    assert response.status_code == 400 and response.mimetype == "text/html"
    assert "&lt;" in _no_raw_markup(response)  # echoed in the page's message, but as text


@pytest.mark.parametrize("method, url, kwargs", ECHOING_JSON_ERRORS + [
    ("GET", f"/{SCRIPT}", {}), ("DELETE", f"/predict?x={SCRIPT}", {})], ids=ERROR_IDS + ["404", "405"])
def test_json_errors_cannot_be_rendered_as_html(app, method, url, kwargs):
    response = app.test_client().open(url, method=method, **_fresh(kwargs))
    assert 400 <= response.status_code < 500
    assert response.mimetype == "application/json" and response.headers.get("X-Content-Type-Options") == "nosniff"


@pytest.mark.parametrize("method, url, kwargs", ECHOING_JSON_ERRORS, ids=ERROR_IDS)
def test_json_errors_carry_no_raw_markup(app, method, url, kwargs):
    _no_raw_markup(app.test_client().open(url, method=method, **_fresh(kwargs)))


@pytest.mark.parametrize("url", ["/", f"/?ticker={SCRIPT}", f"/monitoring?ticker=MSFT&x={SCRIPT}"])
def test_pages_do_not_reflect_query_strings(app, url):
    response = app.test_client().get(url)
    assert response.status_code == 200 and response.headers.get("X-Content-Type-Options") == "nosniff"
    _no_raw_markup(response)


# --- metric series ---------------------------------------------------------------------------------------------

def _series(client):
    text = client.get("/metrics").get_data(as_text=True)
    return {(s.name, tuple(sorted(s.labels.items()))) for f in text_string_to_metric_families(text)
            for s in f.samples}


def test_a_thousand_hostile_requests_create_no_metric_series(app):
    """Random paths, methods, tickers, file names and request ids: labels stay bounded (method, url rule, status)."""
    client = app.test_client()
    rng = random.Random(7)

    def word(alphabet=string.ascii_letters + string.digits + "-_.~%<>'"):
        return "".join(rng.choices(alphabet, k=rng.randint(1, 24)))

    def symbol():
        return "".join(rng.choices(string.ascii_uppercase + string.digits + ".-^=", k=rng.randint(1, 15)))

    def predict(ticker, filename):
        return client.post("/predict", data={"ticker": ticker, "file": (io.BytesIO(CSV), filename)},
                           content_type="multipart/form-data")

    # One request of each legitimate kind first: the series they create are expected.
    predict("MSFT", "MSFT_data.csv")
    predict("<bad>", "x.csv")
    for method in ("GET", "POST", "DELETE", "BREW"):
        client.open("/no-such-page", method=method)
    client.get("/predict")
    client.get("/monitoring/performance?ticker=MSFT")
    client.get("/monitoring/performance?ticker=<bad>")
    client.get("/monitoring?ticker=MSFT")
    client.get("/monitoring?ticker=<bad>")
    client.get("/metrics")
    before = _series(client)

    for i in range(1000):
        kind = i % 5
        if kind == 0:  # a valid symbol and a random file name: a 200 for a ticker never seen before
            assert predict(symbol(), f"{word()}.csv").status_code == 200
        elif kind == 1:  # a file name that names the ticker
            predict("", f"{symbol()}_data.csv")
        elif kind == 2:  # an invalid ticker
            predict(word(), f"{word()}.csv")
        elif kind == 3:
            page = rng.choice(["/monitoring/performance", "/monitoring"])
            client.get(f"{page}?ticker={rng.choice([symbol(), word()])}")
        else:
            path = "/" + "/".join(word(string.ascii_letters + string.digits + "-_.~") for _ in range(rng.randint(1, 3)))
            client.open(path + f"?ticker={word()}&file={word()}.csv&request_id={word()}",
                        method=rng.choice(["GET", "POST", "DELETE", "BREW", word(string.ascii_uppercase)]))
    client.get("/metrics")
    after = _series(client)
    assert after == before, sorted(after - before)[:10]
