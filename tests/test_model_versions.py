"""Model versions in one process: the store, GET /models, shadow forecasts, promotion, the gate, bounded labels."""
import datetime as dt
import io
import json
import re
import shutil

import pytest
from prometheus_client.parser import text_string_to_metric_families

from app import create_app
from app.model_store import ModelStore, StoreError
from app.monitoring.prices import UploadedActualsSource
from app.monitoring.promotions import current_champion
from app.predictor import ModelLoadError
from app.services import services_of
from tests.conftest import ROOT, post_file
from tests.test_monitoring_api import csv_of, recent_history

STORE = ModelStore(ROOT / "app" / "models")
CHAMPION = STORE.default_champion()
CHALLENGER = next(v for v in STORE.serving_versions() if v != CHAMPION)
TOKEN = "promote-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def build_app(tmp_path, **config):
    app = create_app({"TESTING": True, "REGISTRY_PATH": str(tmp_path / "forecasts.sqlite3"), "DATABASE_URL": "",
                      "MONITORING_TOKEN": TOKEN, "VALIDATION_PRICE_SOURCE": "uploaded", **config})
    services_of(app).price_source = UploadedActualsSource  # tests never go online
    return app


@pytest.fixture
def vapp(tmp_path):
    app = build_app(tmp_path)
    yield app
    services_of(app).registry.close()


@pytest.fixture
def vclient(vapp):
    return vapp.test_client()


def registry_of(app):
    return services_of(app).registry.get()


def forecast_then_validate(client, gspc_frame, horizon=5):
    """A forecast made from closes ending 10 sessions ago, then the closes that followed, then validation."""
    history = recent_history(gspc_frame, rows=310, days_before_today=3)
    answer = post_file(client, csv_of(history.iloc[:-10]), horizon=str(horizon)).get_json()
    client.post("/monitoring/actuals", data={"file": (io.BytesIO(csv_of(history.iloc[-10:])), "GSPC_data.csv")},
                content_type="multipart/form-data", headers=AUTH)
    validation = client.post("/monitoring/validate?days_back=30", headers=AUTH).get_json()
    return answer, validation


# --- the store ----------------------------------------------------------------------------------------------

def test_the_shipped_store_holds_a_champion_and_a_challenger_named_by_their_cards():
    assert len(STORE.serving_versions()) >= 2 and CHAMPION != CHALLENGER
    for version in (CHAMPION, CHALLENGER):
        assert json.loads((STORE.path(version) / "model.json").read_text())["version"] == version
        assert STORE.training_returns(version).size > 1000
    challenger_card = json.loads((STORE.path(CHALLENGER) / "model.json").read_text())
    assert challenger_card["data"]["selection"]["last_years"] == 10


def test_adding_a_version_never_overwrites_one(tmp_path):
    store = ModelStore(tmp_path / "models")
    version = store.add(STORE.path(CHAMPION), ROOT / "downloadData" / "data" / "GSPC_data.csv")
    assert store.versions() == [version] == [CHAMPION] and store.default_champion() == CHAMPION
    before = (store.path(version) / "model_lstm.keras").read_bytes()
    with pytest.raises(StoreError, match="never overwritten"):
        store.add(STORE.path(CHAMPION))
    assert (store.path(version) / "model_lstm.keras").read_bytes() == before
    assert [p.name for p in store.root.iterdir()] == [version]  # no staging folder left behind
    with pytest.raises(StoreError, match="is it the CSV this model was trained on"):
        ModelStore(tmp_path / "other").add(STORE.path(CHAMPION), ROOT / "downloadData" / "data" / "MSFT_data.csv")


def test_a_folder_whose_card_names_another_version_is_refused(tmp_path):
    store = ModelStore(tmp_path / "models")
    shutil.copytree(STORE.path(CHAMPION), store.root / "renamed-version")
    with pytest.raises(ModelLoadError, match="carries its card's version"):
        store.load("renamed-version")
    with pytest.raises(ModelLoadError, match="no version"):
        store.path("../models")


# --- GET /models and shadow forecasts ---------------------------------------------------------------------

def test_models_lists_the_champion_first_with_card_and_production_figures(vclient):
    body = vclient.get("/models").get_json()
    assert body["champion"] == CHAMPION
    roles = {m["version"]: m["role"] for m in body["models"]}
    assert body["models"][0]["version"] == CHAMPION and roles[CHALLENGER] == "challenger"
    champion = body["models"][0]
    assert champion["evaluation"]["rmae"] == pytest.approx(STORE.load(CHAMPION).card["evaluation"]["rmae"])
    assert champion["production"] == {"n": 0, "mae": None, "naive_mae": None, "rmae": None, "coverage_80": None}


def test_every_request_is_answered_by_the_champion_and_shadowed_by_the_challenger(vapp, vclient, gspc_frame):
    answer, validation = forecast_then_validate(vclient, gspc_frame)
    assert answer["model_version"] == CHAMPION and validation["validated"] == 10 and validation["pending_total"] == 0
    with registry_of(vapp).engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT model_version, role, request_id, input_hash, status FROM forecasts").all()
    by_role = {role: [r for r in rows if r[1] == role] for role in ("champion", "challenger")}
    assert {r[0] for r in by_role["champion"]} == {CHAMPION} and {r[0] for r in by_role["challenger"]} == {CHALLENGER}
    assert len(by_role["champion"]) == len(by_role["challenger"]) == 5
    assert {(r[2], r[3]) for r in rows} == {(answer["request_id"], next(iter(rows))[3])}  # same request, same input
    assert {r[4] for r in rows} == {"validated"}  # validation checks the shadows too

    served = vclient.get("/monitoring/performance").get_json()
    shadow = vclient.get(f"/monitoring/performance?model_version={CHALLENGER}").get_json()
    assert served["validated"] == shadow["validated"] == 5  # the default report is what users were answered
    assert {f["role"] for f in shadow["recent"]["forecasts"]} == {"challenger"}
    assert shadow["metrics"]["mae"] != served["metrics"]["mae"]
    models = {m["version"]: m for m in vclient.get("/models").get_json()["models"]}
    assert models[CHALLENGER]["production"]["n"] == 5
    assert models[CHALLENGER]["production"]["mae"] == pytest.approx(shadow["metrics"]["mae"])
    assert models[CHALLENGER]["versus_champion"]["n"] == 5
    page = vclient.get("/monitoring").get_data(as_text=True)
    assert 'id="champion-vs-challengers"' in page and CHALLENGER in page

    metrics = vclient.get("/metrics").get_data(as_text=True)
    assert f'model_version_errors_total{{model_version="{CHALLENGER}",role="challenger"}} 5.0' in metrics
    assert 'model_prediction_errors_total{forecaster="lstm",source="validated"} 5.0' in metrics  # answers only


def test_a_failing_challenger_never_costs_the_user_the_answer(vapp, vclient, gspc_frame):
    challenger = services_of(vapp).lineup.predictors[CHALLENGER]

    def broken(*args, **kwargs):
        raise RuntimeError("challenger exploded")

    challenger.forecast = broken
    response = post_file(vclient, csv_of(recent_history(gspc_frame)), horizon="3")
    assert response.status_code == 200 and response.get_json()["model_version"] == CHAMPION
    assert {r["model_version"] for r in registry_of(vapp).pending()} == {CHAMPION}


def test_a_bad_model_version_filter_is_a_400(vclient):
    response = vclient.get("/monitoring/performance?model_version=<script>")
    assert response.status_code == 400 and response.get_json()["error"] == "bad_model_version"
    assert vclient.get("/monitoring/performance?model_version=").status_code == 400


# --- promotion --------------------------------------------------------------------------------------------

def test_promotion_needs_the_token_and_a_known_version(vclient, tmp_path):
    assert vclient.post(f"/models/{CHALLENGER}/promote").status_code == 401
    wrong = vclient.post(f"/models/{CHALLENGER}/promote", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    unknown = vclient.post("/models/no-such-version/promote", headers=AUTH)
    assert unknown.status_code == 404 and unknown.get_json()["error"] == "unknown_model_version"
    assert str(ROOT) not in unknown.get_json()["message"]
    open_app = build_app(tmp_path / "open", MONITORING_TOKEN="")
    disabled = open_app.test_client().post(f"/models/{CHALLENGER}/promote")
    assert disabled.status_code == 403 and disabled.get_json()["error"] == "promotion_disabled"
    services_of(open_app).registry.close()


def test_promotion_switches_the_answers_and_survives_a_restart(vapp, vclient, gspc_frame, tmp_path):
    promoted = vclient.post(f"/models/{CHALLENGER}/promote", headers=AUTH)
    assert promoted.status_code == 200, promoted.get_json()
    assert promoted.get_json()["previous"] == CHAMPION and promoted.get_json()["changed"] is True
    assert vclient.get("/model").get_json()["version"] == CHALLENGER
    answer = post_file(vclient, csv_of(recent_history(gspc_frame)), horizon="2").get_json()
    assert answer["model_version"] == CHALLENGER
    roles = {(r["model_version"], r["role"]) for r in registry_of(vapp).pending()}
    assert roles == {(CHALLENGER, "champion"), (CHAMPION, "challenger")}  # the old champion now shadows
    history = vclient.get("/models").get_json()["promotions"]
    assert history[0]["version"] == CHALLENGER and history[0]["forced"] is True  # no evidence yet: recorded

    restarted = build_app(tmp_path)  # a new process on the same registry
    assert restarted.test_client().get("/model").get_json()["version"] == CHALLENGER
    services_of(restarted).registry.close()


# --- the gate ---------------------------------------------------------------------------------------------

def paired(registry, champion_error, challenger_error, champion_band, challenger_band, n=10):
    """n validated forecasts made by both versions from the same inputs, with the given absolute errors."""
    ids = []
    for i in range(n):
        made = dt.date(2024, 1, 1) + dt.timedelta(days=i)
        for version, role, error, band in ((CHAMPION, "champion", champion_error, champion_band),
                                           (CHALLENGER, "challenger", challenger_error, challenger_band)):
            registry.register_forecasts("GATE", made, 100.0, [{"date": made + dt.timedelta(days=1),
                                                               "close": 100.0 + error, "lower_80": 100.0 - band,
                                                               "upper_80": 100.0 + band}],
                                        version, f"r{i}", f"input-{i}", role=role)
    for row in registry.pending(ticker="GATE"):
        ids.append({"id": row["id"], "actual": 101.0, "actual_date": row["target_date"],
                    "abs_error": abs(row["predicted"] - 101.0), "ape": abs(row["predicted"] - 101.0),
                    "naive_abs_error": 1.0, "naive_ape": 1.0})
    registry.mark_validated(ids)


@pytest.mark.parametrize("challenger_error, challenger_band, refused_because", [
    (3.0, 5.0, "rMAE"),  # misses by 2 where the champion misses by 0.5
    (1.5, 0.1, "80% interval"),  # as accurate, but its interval never holds the close
])
def test_the_gate_refuses_a_worse_challenger_unless_forced(vapp, challenger_error, challenger_band,
                                                           refused_because):
    paired(registry_of(vapp), 1.5, challenger_error, 5.0, challenger_band)
    runner = vapp.test_cli_runner()
    refused = runner.invoke(args=["models", "promote", CHALLENGER])
    assert refused.exit_code == 1 and refused_because in refused.output and "--force" in refused.output
    assert "10 validated forecasts made by both" in refused.output
    assert current_champion(registry_of(vapp)) is None
    forced = runner.invoke(args=["models", "promote", CHALLENGER, "--force"])
    assert forced.exit_code == 0, forced.output
    assert current_champion(registry_of(vapp)) == CHALLENGER and "rolls back" in forced.output


def test_the_gate_lets_a_better_challenger_through(vapp):
    paired(registry_of(vapp), 2.5, 1.2, 0.1, 5.0)
    result = vapp.test_cli_runner().invoke(args=["models", "promote", CHALLENGER])
    assert result.exit_code == 0, result.output
    assert f"{CHALLENGER} is now the champion" in result.output
    history = vapp.test_client().get("/models").get_json()["promotions"]
    assert history[0]["forced"] is False and history[0]["previous"] == CHAMPION


def test_the_gate_refuses_without_common_validated_forecasts(vapp):
    result = vapp.test_cli_runner().invoke(args=["models", "promote", CHALLENGER])
    assert result.exit_code == 1 and "no validated forecast in common" in result.output


# --- bounded labels ---------------------------------------------------------------------------------------

def test_model_version_labels_stay_bounded_whatever_clients_register(vclient):
    for i in range(60):
        body = {"ticker": "LBL", "target_date": "2024-03-05", "prediction_value": 100.0 + i, "last_close": 99.0,
                "model_version": f"client-model-{i}"}
        assert vclient.post("/monitoring/register", json=body, headers=AUTH).status_code == 201
    vclient.post("/monitoring/actuals?ticker=LBL", data=b"Date,Close\n2024-03-05,101\n",
                 content_type="text/csv", headers=AUTH)
    assert vclient.post("/monitoring/validate?days_back=36500", headers=AUTH).get_json()["validated"] == 60
    families = text_string_to_metric_families(vclient.get("/metrics").get_data(as_text=True))
    versions, roles = set(), set()
    for family in families:
        for sample in family.samples:
            versions.add(sample.labels.get("model_version"))
            roles.add(sample.labels.get("role"))
    assert versions - {None} == {CHAMPION, CHALLENGER, "other"}
    assert roles - {None} <= {"champion", "challenger", "other"}
    metrics = vclient.get("/metrics").get_data(as_text=True)
    assert re.search(r'model_version_errors_total\{model_version="other",role="other"\} 60\.0', metrics)


def test_a_retired_version_is_listed_but_not_loaded(tmp_path):
    store = tmp_path / "models"
    shutil.copytree(ROOT / "app" / "models", store)
    (store / "store.json").write_text(json.dumps({"default_champion": CHAMPION, "retired": [CHALLENGER]}))
    app = build_app(tmp_path, MODEL_STORE=str(store))
    assert services_of(app).lineup.versions() == [CHAMPION]
    models = app.test_client().get("/models").get_json()["models"]
    assert [(m["version"], m["role"]) for m in models] == [(CHAMPION, "champion"), (CHALLENGER, "retired")]
    assert "production" not in models[1] and models[1]["evaluation"]["rmae"] is not None
    services_of(app).registry.close()


def test_the_champion_keeps_serving_while_promotions_cannot_be_read(monkeypatch, caplog):
    from app import model_lineup

    def registry_down():
        raise OSError("database is locked")

    monkeypatch.setattr(model_lineup, "REFRESH_SECONDS", 0.0)  # re-read on every request
    lineup = model_lineup.ModelLineup({v: STORE.load(v) for v in (CHAMPION, CHALLENGER)}, CHAMPION,
                                      read_champion=registry_down)
    assert [lineup.current().champion.version for _ in range(3)] == [CHAMPION] * 3
    assert [c.version for c in lineup.current().challengers] == [CHALLENGER]
    assert sum("could not read the current champion" in r.getMessage() for r in caplog.records) == 1
