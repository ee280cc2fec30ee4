"""What can be checked of Grafana without a Grafana server (none can run on these machines).

- The provisioning files against Grafana's documented provisioning format ("Provision Grafana", data sources
  and dashboard providers), transcribed below as JSON Schemas that refuse unknown keys.
- Every dashboard against Grafana's own dashboard model: grafana-foundation-sdk, Grafana's Python types generated
  from its schema, reads the JSON and writes it back. A key or panel option that Grafana's schema does not know
  is dropped by that round trip, so the round trip must give back the file unchanged.
The datasource uid every panel uses is checked in tests/test_grafana.py; every panel query runs against a real
Prometheus in tests/test_prometheus_integration.py.
"""
import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models.dashboard import Dashboard

GRAFANA = Path(__file__).resolve().parent.parent / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))

_ENV_OR = {"type": ["string", "integer", "boolean"]}  # values may be ${ENV_VAR} interpolations
DATASOURCES_SCHEMA = {
    "type": "object", "additionalProperties": False, "required": ["apiVersion"],
    "properties": {
        "apiVersion": {"const": 1},
        "prune": {"type": "boolean"},
        "deleteDatasources": {"type": "array", "items": {
            "type": "object", "additionalProperties": False, "required": ["name"],
            "properties": {"name": {"type": "string"}, "orgId": _ENV_OR}}},
        "datasources": {"type": "array", "items": {
            "type": "object", "additionalProperties": False, "required": ["name", "type"],
            "properties": {
                "name": {"type": "string"}, "type": {"type": "string"}, "uid": {"type": "string"},
                "access": {"enum": ["proxy", "direct"]}, "orgId": _ENV_OR, "url": {"type": "string"},
                "user": {"type": "string"}, "database": {"type": "string"}, "basicAuth": _ENV_OR,
                "basicAuthUser": {"type": "string"}, "withCredentials": _ENV_OR, "isDefault": _ENV_OR,
                "jsonData": {"type": "object"}, "secureJsonData": {"type": "object"}, "version": _ENV_OR,
                "editable": _ENV_OR}}},
    },
}
PROVIDERS_SCHEMA = {
    "type": "object", "additionalProperties": False, "required": ["apiVersion", "providers"],
    "properties": {
        "apiVersion": {"const": 1},
        "providers": {"type": "array", "minItems": 1, "items": {
            "type": "object", "additionalProperties": False, "required": ["name", "type", "options"],
            "properties": {
                "name": {"type": "string"}, "orgId": _ENV_OR, "folder": {"type": "string"},
                "folderUid": {"type": "string"}, "type": {"const": "file"}, "disableDeletion": _ENV_OR,
                "updateIntervalSeconds": _ENV_OR, "allowUiUpdates": _ENV_OR,
                "options": {"type": "object", "additionalProperties": False, "required": ["path"],
                            "properties": {"path": {"type": "string"},
                                           "foldersFromFilesStructure": _ENV_OR}}}}},
    },
}


@pytest.mark.parametrize(("folder", "schema"), [("datasources", DATASOURCES_SCHEMA), ("dashboards", PROVIDERS_SCHEMA)])
def test_provisioning_files_follow_grafanas_documented_format(folder, schema):
    files = sorted((GRAFANA / "provisioning" / folder).glob("*.y*ml"))
    assert files, f"no provisioning file in grafana/provisioning/{folder}"
    for path in files:
        jsonschema.validate(yaml.safe_load(path.read_text()), schema)


@pytest.mark.parametrize("bad", [{"datasources": [{"name": "P", "type": "prometheus", "isDefualt": True}]},
                                 {"datasources": [{"name": "P", "type": "prometheus", "access": "server"}]}])
def test_the_provisioning_schema_refuses_a_misspelt_key_or_a_wrong_value(bad):
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"apiVersion": 1, **bad}, DATASOURCES_SCHEMA)


def _grafana_round_trip(dashboard: dict) -> dict:
    register_default_plugins()  # panel options and queries typed by their plugin (stat, timeseries, ...)
    model = Dashboard.from_json(dashboard)
    return json.loads(json.dumps(model, default=lambda value: value.to_json()))


def _differences(ours, grafanas, path=""):
    """Where Grafana's reading of a dashboard lost or changed what the file says (its added defaults are fine)."""
    if isinstance(ours, dict) and isinstance(grafanas, dict):
        return [found for key, value in ours.items()
                for found in ([f"{path}/{key}: unknown to Grafana's schema"] if key not in grafanas
                              else _differences(value, grafanas[key], f"{path}/{key}"))]
    if isinstance(ours, list) and isinstance(grafanas, list) and len(ours) == len(grafanas):
        return [found for i, (a, b) in enumerate(zip(ours, grafanas, strict=True))
                for found in _differences(a, b, f"{path}[{i}]")]
    return [] if ours == grafanas else [f"{path}: {ours!r} read as {grafanas!r}"]


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_every_dashboard_key_is_part_of_grafanas_dashboard_schema(path):
    dashboard = json.loads(path.read_text())
    assert _differences(dashboard, _grafana_round_trip(dashboard)) == []


def test_the_round_trip_catches_keys_grafana_does_not_know():
    dashboard = json.loads(DASHBOARDS[0].read_text())
    dashboard["refreshh"] = "5s"
    dashboard["panels"][0]["fieldConfig"]["defaults"]["unitt"] = "s"
    found = _differences(dashboard, _grafana_round_trip(dashboard))
    assert sorted(found) == ["/panels[0]/fieldConfig/defaults/unitt: unknown to Grafana's schema",
                             "/refreshh: unknown to Grafana's schema"]
