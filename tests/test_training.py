"""Training pipeline: tiny end-to-end runs, reproducibility, no leakage, honest evaluation, CLI errors."""
import json

import numpy as np
import pandas as pd
import pytest
from tiny_model import TINY, shared_tiny_artifact, tiny_csv, train_tiny

from app.forecasting import Standardiser, log_returns
from app.predictor import Predictor
from modelTraining import evaluation
from modelTraining.data import Split, load_closes
from modelTraining.train_lstm import main

pytest.importorskip("tensorflow")


@pytest.fixture(scope="module")
def artifact():
    return shared_tiny_artifact()


def test_tiny_run_writes_a_loadable_artifact_with_its_card(artifact):
    assert sorted(p.name for p in artifact.iterdir()) == [
        "model.json", "model_lstm.keras", "preprocessing.json", "test_forecast.png"]
    predictor = Predictor.load(artifact)
    card = predictor.card
    assert card["window"] == TINY["window"] and predictor.min_history == 21
    assert card["data"]["file"] == "TINY_data.csv" and card["data"]["rows"] == 600
    splits = card["data"]["splits"]
    assert splits["train"]["rows"] + splits["validation"]["rows"] + splits["test"]["rows"] == 600
    assert splits["train"]["end"] < splits["validation"]["start"] < splits["test"]["start"]
    ev = card["evaluation"]
    assert {"mae", "rmse", "mape"} <= set(ev["lstm"]) and {"mae", "rmse", "mape"} <= set(ev["naive"])
    assert ev["rmae"] == pytest.approx(ev["lstm"]["mae"] / ev["naive"]["mae"])
    assert ev["beats_naive"] == (ev["rmae"] < 1) and "naive" in ev["verdict"]
    assert [row["horizon"] for row in ev["by_horizon"]] == [1, 5, 10, 20, 30]
    for level in ("80", "95"):
        assert 0 <= ev["by_horizon"][0][level]["coverage"] <= 100
        assert len(card["intervals"]["quantiles"][level]["upper"]) == 30
    for baseline in ("naive", "drift"):
        assert ev["by_horizon"][0][baseline]["verdict"] in {"better", "worse", "tie"}
    assert any("drift" in line for line in ev["skill"]) and any("naive" in line for line in ev["skill"])
    garch = card["intervals"]["garch"]
    assert 0 < garch["alpha"] + garch["beta"] < 1 and card["intervals"]["garch_selection"]["persistence_gap_points"]
    training = card["training"]
    assert len(training["loss_curve"]) == len(training["val_loss_curve"]) == training["epochs_run"]
    assert card["hyperparameters"]["seed"] == TINY["seed"] and "tensorflow" in card["libraries"]
    assert card["training"]["epochs_run"] <= TINY["epochs"]
    assert predictor.forecast(pd.read_csv(tiny_csv(artifact.parent, name="check.csv"))["Close"], 30).close.size == 30


def test_same_data_and_seed_give_the_same_metrics(artifact, tmp_path):
    first = json.loads((artifact / "model.json").read_text())
    second = train_tiny(artifact.parent / "TINY_data.csv", tmp_path / "again")
    assert second["weights_sha256"] == first["weights_sha256"]
    assert second["evaluation"] == first["evaluation"]
    assert second["intervals"]["quantiles"] == first["intervals"]["quantiles"]


def test_scaler_sees_only_training_returns(artifact, tmp_path):
    """The saved scaler equals one fit on training returns alone, and test-part prices cannot move it."""
    card = json.loads((artifact / "model.json").read_text())
    saved = Standardiser.from_dict(json.loads((artifact / "preprocessing.json").read_text())["scaler"])
    closes = load_closes(artifact.parent / "TINY_data.csv").to_numpy()
    train_rows = card["data"]["splits"]["train"]["rows"]
    expected = Standardiser.fit(log_returns(closes[:train_rows]))
    assert saved.mean == pytest.approx(expected.mean, rel=1e-12) and saved.std == pytest.approx(expected.std, rel=1e-12)
    assert saved.mean != pytest.approx(Standardiser.fit(log_returns(closes)).mean, rel=1e-3)

    def wreck_test_part(frame):
        frame.loc[train_rows + 100:, "Close"] *= np.linspace(1.0, 3.0, len(frame) - train_rows - 100)
        return frame

    edited = tiny_csv(tmp_path, name="EDITED_data.csv", edit=wreck_test_part)
    train_tiny(edited, tmp_path / "edited", epochs=1)
    other = Standardiser.from_dict(json.loads((tmp_path / "edited" / "preprocessing.json").read_text())["scaler"])
    assert other == saved


def test_split_targets_never_cross_parts():
    split = Split.chronological(600, window=20, volatility_window=20)
    train, val, test = (split.origins(p) for p in ("train", "validation", "test"))
    assert train.max() + 1 == val.min() and val.max() + 1 == test.min() and test.max() == 598
    assert train.max() < split.train_end <= val.min()  # each origin's target r[o] stays in its own part


@pytest.mark.parametrize("rows, window, fragment", [(100, 60, "too few targets"), (200, 20, "'test': 30")])
def test_split_refuses_too_little_data(rows, window, fragment):
    with pytest.raises(ValueError, match=fragment):
        Split.chronological(rows, window=window, volatility_window=20, min_targets=31)


def test_naive_metrics_match_a_direct_computation(artifact):
    card = json.loads((artifact / "model.json").read_text())
    closes = load_closes(artifact.parent / "TINY_data.csv").to_numpy()
    n = card["evaluation"]["rows"]
    errors = closes[-n:] - closes[-n - 1:-1]
    assert card["evaluation"]["naive"]["mae"] == pytest.approx(np.mean(np.abs(errors)))
    assert card["evaluation"]["naive"]["rmse"] == pytest.approx(np.sqrt(np.mean(errors ** 2)))
    assert n == card["data"]["splits"]["test"]["rows"]


def test_price_metrics_and_verdicts():
    metrics = evaluation.price_metrics(np.array([110.0, 90.0]), np.array([100.0, 100.0]))
    assert metrics == {"mae": 10.0, "rmse": 10.0, "mape": 10.0}
    assert "does NOT beat" in evaluation.verdict(1.02, 3.0)
    beats = evaluation.verdict(0.95, -4.0)
    assert "beats the naive" in beats and "not statistically" not in beats
    assert "not statistically significant" in evaluation.verdict(0.999, -0.3)


@pytest.mark.parametrize("argv, fragment", [
    (["--csv", "/nonexistent/prices.csv"], "No such file"),
    (["--last-years", "0.2"], "too few targets"),
])
def test_cli_errors_are_one_line_and_exit_2(argv, fragment, capsys, tmp_path):
    assert main(argv + ["--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert fragment in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("csv_text", [
    "Date,Open\n2020-01-02,1\n",  # no Close column
    "Date,Close\n2020-01-02,1\n2020-01-03,null\n",  # a null close: once dropped silently by training
    "Date,Close\n2020-01-02,1\n2020-01-02,2\n",  # a date twice: once kept the last silently
    "Date,Close\n2020-01-02,1\n2020-13-45,2\n",  # an unreadable date: once dropped silently
])
def test_training_refuses_what_the_api_refuses_with_the_same_message(csv_text, tmp_path, capsys, client):
    bad = tmp_path / "bad.csv"
    bad.write_text(csv_text)
    api = client.post("/predict", data=csv_text, content_type="text/csv")
    assert api.status_code == 400
    assert main(["--csv", str(bad), "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {bad}: {api.get_json()['message']}\n"
    assert not (tmp_path / "m").exists()
