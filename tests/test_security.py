"""Security: the token guards every monitoring write, the image runs as non-root, no secrets are committed,
reflected input never becomes markup, and clients cannot create metric series."""
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
}


def _fresh(kwargs):
    """The request arguments with a new file object of the same content (a test client consumes it)."""
    data = kwargs.get("data")
    if isinstance(data, dict) and "file" in data:
        stream, name = data["file"]
        return {**kwargs, "data": {**data, "file": (io.BytesIO(stream.getvalue()), name)}}
    return kwargs


def _write_routes(app):
    """Routes that change stored state: anything but GET/HEAD/OPTIONS, except the public forecast endpoints."""
    return {rule.rule for rule in app.url_map.iter_rules()
            if rule.methods - {"GET", "HEAD", "OPTIONS"} and rule.rule not in {"/predict", "/"}}


def test_every_write_endpoint_is_listed_here(guarded):
    assert _write_routes(guarded) == set(WRITES), "a new write endpoint needs @require_token and a case in WRITES"


@pytest.mark.parametrize("path", sorted(WRITES))
@pytest.mark.parametrize("header", [None, "Bearer wrong-token", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer ",
                                    TOKEN], ids=["none", "wrong", "basic", "longer", "empty", "no-scheme"])
def test_write_without_the_token_is_401(guarded, path, header):
    headers = {"Authorization": header} if header is not None else {}
    response = guarded.test_client().post(path, headers=headers, **_fresh(WRITES[path]))
    assert response.status_code == 401, response.get_data(as_text=True)
    assert response.get_json()["error"] == "unauthorized" and "Bearer" in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize("path", sorted(WRITES))
def test_write_with_the_token_is_accepted(guarded, path):
    response = guarded.test_client().post(path, headers={"Authorization": f"Bearer {TOKEN}"}, **_fresh(WRITES[path]))
    assert response.status_code in (200, 201), response.get_data(as_text=True)


def test_a_refused_write_changes_nothing(guarded):
    client = guarded.test_client()
    client.post("/monitoring/register", **_fresh(WRITES["/monitoring/register"]))
    client.post("/monitoring/actuals", **_fresh(WRITES["/monitoring/actuals"]))
    report = client.get("/monitoring/performance").get_json()
    assert report["pending"] == 0 and report["validated"] == 0


# --- the container user ----------------------------------------------------------------------------------------

def _final_stage(dockerfile):
    """(instruction, arguments) of the last build stage, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    stages = [i for i, line in enumerate(lines) if line.upper().startswith("FROM ")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
            for line in lines[stages[-1]:]]


def test_container_runs_as_a_numeric_non_root_user():
    stage = _final_stage(ROOT / "Docker" / "Dockerfile")
    keywords = [keyword for keyword, _ in stage]
    assert "CMD" in keywords and "USER" in keywords[:keywords.index("CMD")], "USER must come before CMD"
    user = [args for keyword, args in stage if keyword == "USER"][-1].split(":")
    # Numeric, so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
    assert user[0].isdigit() and int(user[0]) != 0, user
    assert len(user) == 1 or (user[1].isdigit() and int(user[1]) != 0), user


# --- secrets ---------------------------------------------------------------------------------------------------

SECRET_PATTERNS = {
    "private key": re.compile(r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY-----"),
    "AWS access key id": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "AWS secret key": re.compile(r"aws_secret_access_key\s*[:=]\s*\S{20,}", re.IGNORECASE),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
    "Slack token": re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
}
# user:password@ in a URL, unless the password is a placeholder (documentation) or a ${VAR} reference, or the
# server is a loopback one a test starts and stops itself.
URL_CREDENTIALS = re.compile(r"[a-z][a-z0-9+.-]*://[^\s:/@'\"]+:([^\s@/'\"]+)@(?!127\.0\.0\.1|localhost)")
PLACEHOLDERS = {"pass", "password", "secret", "changeme", "xxx", "***", "pwd"}
CONFIG_SUFFIXES = {".yml", ".yaml", ".ini", ".toml", ".cfg", ".conf", ".env", ".json", ".properties"}
# A literal value assigned to a password/secret/token key; ${VAR} references and empty values are fine, and so
# is a YAML key whose value is the mapping on the next lines (compose's `secrets:`, Kubernetes' `secretKeyRef:`).
ASSIGNED_SECRET = re.compile(r"(?i)(?<![{$\w.-])[\w.-]*(?:password|passwd|secret|token|api_?key)[\w.-]*[\"']?"
                             r"\s*[:=][ \t]*(?![\"']?\$\{)(?![\"']?\s*$)[\"']?([^\s\"'#,}]{4,})")


def _tracked_files():
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    return [ROOT / name for name in out.decode().split("\0") if name]


def test_no_env_files_or_key_files_are_tracked():
    names = [path.relative_to(ROOT).as_posix() for path in _tracked_files()]
    bad = [n for n in names if re.search(r"(^|/)\.env(\.|$)|\.(pem|key|p12|pfx)$|(^|/)id_(rsa|ed25519|ecdsa)", n)]
    assert not bad


def test_no_secrets_in_tracked_files():
    found = []
    for path in _tracked_files():
        if not path.is_file() or path.stat().st_size > 2_000_000:
            continue
        text = path.read_bytes().decode("utf-8", errors="ignore")
        found += [f"{path.relative_to(ROOT)}: {kind}" for kind, pattern in SECRET_PATTERNS.items()
                  if pattern.search(text)]
        found += [f"{path.relative_to(ROOT)}: URL with a password" for match in URL_CREDENTIALS.finditer(text)
                  if match.group(1).lower() not in PLACEHOLDERS and match.group(1)[0] not in "<${"]
        if path.suffix in CONFIG_SUFFIXES or path.name in {"Dockerfile", "Makefile"}:
            found += [f"{path.relative_to(ROOT)}: {match.group(0)!r}" for match in ASSIGNED_SECRET.finditer(text)]
    assert not found, found


@pytest.mark.parametrize("line, secret", [
    ("password: hunter22", True), ('"api_key": "abcd1234efgh"', True), ("DB_PASSWORD=topsecret", True),
    ("GF_SECURITY_ADMIN_PASSWORD: ${GRAFANA_ADMIN_PASSWORD:-admin}", False), ("MONITORING_TOKEN: ", False),
    ('"MONITORING_TOKEN": ""', False), ("secrets:\n  alert_webhook_url:", False),
    ("secretKeyRef:\n    name: stock-forecast-db", False),
])
def test_the_secret_scanner_itself(line, secret):
    assert bool(ASSIGNED_SECRET.search(line)) == secret


@pytest.mark.parametrize("url, secret", [
    ("postgresql+psycopg://forecast:" + "Xk29fjq1@db.internal/forecasts", True),  # split: the scan reads this file
    ("postgresql+psycopg://user:pass@host/db", False), ("postgresql://u:${DB_PASSWORD}@db/x", False),
    ("https://example.com/a@b", False), ("postgresql://postgres:hunter2@127.0.0.1:5/x", False),
])
def test_the_url_credentials_scanner_itself(url, secret):
    match = URL_CREDENTIALS.search(url)
    assert bool(match and match.group(1).lower() not in PLACEHOLDERS and match.group(1)[0] not in "<${") == secret


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
    ("GET", f"/monitoring?ticker={SCRIPT}", {}),
    ("GET", f"/monitoring?status={SCRIPT}", {}),
    ("GET", f"/monitoring/performance?ticker={IMG}", {}),
]
ERROR_IDS = ["predict-ticker", "predict-file-name", "predict-csv-cell", "page-ticker", "page-status", "report-ticker"]


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
            client.get(rng.choice(["/monitoring/performance", "/monitoring"]) + f"?ticker={rng.choice([symbol(), word()])}")
        else:
            path = "/" + "/".join(word(string.ascii_letters + string.digits + "-_.~") for _ in range(rng.randint(1, 3)))
            client.open(path + f"?ticker={word()}&file={word()}.csv",
                        method=rng.choice(["GET", "POST", "DELETE", "BREW", word(string.ascii_uppercase)]))
    client.get("/metrics")
    after = _series(client)
    assert after == before, sorted(after - before)[:10]
