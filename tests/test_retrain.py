"""`flask models retrain`: trains on recent data, adds a challenger to the store and prints the comparison."""
import shutil

import pytest
from tiny_model import TINY, tiny_csv

from app.model_store import ModelStore
from app.services import services_of
from tests.conftest import ROOT
from tests.test_model_versions import CHALLENGER, CHAMPION, build_app

pytest.importorskip("tensorflow")


def test_retrain_adds_a_challenger_and_compares_it_with_the_champion(tmp_path):
    store = tmp_path / "models"
    shutil.copytree(ROOT / "app" / "models", store)
    app = build_app(tmp_path, MODEL_STORE=str(store))
    args = ["models", "retrain", "--csv", str(tiny_csv(tmp_path, rows=900)), "--last-years", "3",
            "--epochs", str(TINY["epochs"]), "--window", str(TINY["window"]), "--units", str(TINY["units"])]
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 0, result.output
    (new,) = set(ModelStore(store).versions()) - {CHAMPION, CHALLENGER}
    assert ModelStore(store).training_returns(new).size > 400  # kept for the drift watch
    assert f"added challenger {new}" in result.output
    comparison = result.output[result.output.index("On the new version's test part"):]
    assert new in comparison and CHAMPION in comparison and "rMAE" in comparison
    assert "0 validated forecasts made by both" in result.output  # no production evidence yet
    assert ModelStore(ROOT / "app" / "models").versions() == sorted([CHAMPION, CHALLENGER])  # shipped store untouched
    services_of(app).registry.close()
