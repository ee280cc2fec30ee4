"""Schemathesis against /openapi.json: no generated request gets a 5xx or an answer that breaks the spec."""
import json
import re

import pandas as pd
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import (
    not_a_server_error,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.generation import GenerationMode

from app import create_app
from app.config import APP_DIR
from app.monitoring.performance import RECENT_LIMITS, RECENT_STATUSES
from app.monitoring.tickers import MAX_TICKER_LENGTH, is_valid_ticker
from app.monitoring.validation import MAX_DAYS_BACK
from tests.conftest import SAMPLE_CSV

TOKEN = "fuzz-token"
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]
# Read from the file, not the app, so collection builds no app; test_openapi.py keeps the two equal.
SPEC = json.loads((APP_DIR / "openapi.json").read_text())
# Every operation gets positive cases with the token; operations with parameters or a body get negative ones
# (the others have nothing to break); secured operations also get positive cases without the token (401).
CASES = [(f"{method.upper()} {path}", mode, with_token)
         for path, ops in SPEC["paths"].items() for method, op in ops.items()
         for mode, with_token in ((GenerationMode.POSITIVE, True), (GenerationMode.NEGATIVE, True),
                                  (GenerationMode.POSITIVE, False))
         if (mode is GenerationMode.POSITIVE or op.get("parameters") or op.get("requestBody"))
         and (with_token or op.get("security"))]
# Reads whose every input the spec describes completely: any request it calls valid must be answered 2xx.
FULLY_DESCRIBED = ["GET /monitoring/performance", "GET /monitoring", "POST /monitoring/validate"]


def shipped_history(symbol, start, end=None):
    """Forecast-by-ticker never reaches Yahoo here: every symbol gets the shipped S&P 500 year."""
    frame = pd.read_csv(SAMPLE_CSV).tail(300)
    return frame.set_index(pd.DatetimeIndex(pd.to_datetime(frame["Date"]), name="Date")).drop(columns="Date")


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory):
    """The real app (committed model, SQLite registry, token set) with every network source cut off."""
    import downloadData.downloadData as dd

    patch = pytest.MonkeyPatch()
    patch.setattr(dd, "fetch_prices", shipped_history)
    folder = tmp_path_factory.mktemp("fuzz")
    app = create_app({"TESTING": True, "REGISTRY_PATH": str(folder / "forecasts.sqlite3"), "DATABASE_URL": "",
                      "MONITORING_TOKEN": TOKEN, "VALIDATION_PRICE_SOURCE": "uploaded"})
    yield schemathesis.openapi.from_wsgi("/openapi.json", app)
    patch.undo()


def run_cases(operation, mode, checks, headers, examples=25):
    """Send `examples` generated requests (shrinking off to stay fast) and apply `checks` to each answer."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=examples, deadline=None, phases=[Phase.explicit, Phase.generate], database=None,
              suppress_health_check=list(HealthCheck))
    def run(case):
        case.call_and_validate(headers=headers, checks=checks)

    run()


@pytest.mark.parametrize("label, mode, with_token", CASES,
                         ids=[f"{label} {mode.value}{'' if token else ' no-token'}" for label, mode, token in CASES])
def test_operation_conforms_to_the_spec(api_schema, label, mode, with_token):
    headers = {"Authorization": f"Bearer {TOKEN}"} if with_token else {}
    run_cases(api_schema.find_operation_by_label(label), mode, CHECKS, headers)


@pytest.mark.parametrize("label", FULLY_DESCRIBED)
def test_requests_the_spec_calls_valid_are_accepted(api_schema, label):
    run_cases(api_schema.find_operation_by_label(label), GenerationMode.POSITIVE,
              [*CHECKS, positive_data_acceptance], {"Authorization": f"Bearer {TOKEN}"})


def _request_schemas_named(name):
    """Every schema the spec gives a request parameter or body property called `name`."""
    for ops in SPEC["paths"].values():
        for op in ops.values():
            yield from _schemas_named(name, [op.get("parameters", []), op.get("requestBody", {})])


def _schemas_named(name, node):
    if isinstance(node, dict):
        if node.get("name") == name and "schema" in node:
            yield node["schema"]
        if isinstance(node.get("properties"), dict) and name in node["properties"]:
            yield node["properties"][name]
        for value in node.values():
            yield from _schemas_named(name, value)
    elif isinstance(node, list):
        for value in node:
            yield from _schemas_named(name, value)


@pytest.mark.parametrize("name, minimum, maximum", [
    ("days_back", 1, MAX_DAYS_BACK), ("limit", *RECENT_LIMITS), ("horizon", 1, 30)])
def test_spec_ranges_are_the_apps(name, minimum, maximum):
    schemas = list(_request_schemas_named(name))
    assert schemas, name
    for schema in schemas:
        assert (schema["minimum"], schema["maximum"]) == (minimum, maximum), (name, schema)


def test_spec_statuses_are_the_apps():
    for schema in _request_schemas_named("status"):
        if "enum" in schema:
            assert tuple(schema["enum"]) == RECENT_STATUSES


@pytest.mark.parametrize("symbol", ["MSFT", "msft", "^GSPC", "PETR4.SA", "BRK-B", "EURUSD=X", "A" * 15,
                                    "A" * 16, "", "MS FT", "<SCRIPT>", "MSFT_X", "ÄPPL", "$", "#1F77B4"])
def test_spec_ticker_pattern_accepts_what_the_app_accepts(symbol):
    schemas = list(_request_schemas_named("ticker"))
    assert schemas
    for schema in schemas:
        assert schema["maxLength"] == MAX_TICKER_LENGTH
        spec_accepts = bool(re.search(schema.get("pattern", ""), symbol)) and len(symbol) <= schema["maxLength"]
        assert spec_accepts == is_valid_ticker(symbol.upper()), (symbol, schema)
