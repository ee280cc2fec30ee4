"""Baseline comparisons: Diebold-Mariano on constructed errors, and the evaluation command end to end."""
import numpy as np
import pytest
from tiny_model import shared_tiny_artifact, tiny_csv

from modelTraining import skill
from modelTraining.evaluate import main

SEED = 3
RNG = np.random.default_rng(SEED)



def test_dm_finds_a_clearly_better_forecast_and_calls_equal_ones_a_tie():
    baseline = RNG.normal(0, 1, 1000)
    better = skill.compare(0.7 * baseline, baseline, horizon=1)
    assert better["rmae"] == pytest.approx(0.7) and better["dm"] < 0 and better["p_value"] < 0.001
    assert better["verdict"] == "better"
    same = skill.compare(baseline + RNG.normal(0, 0.01, 1000), baseline, horizon=1)
    assert same["verdict"] == "tie" and same["p_value"] > 0.05
    assert skill.compare(baseline, 0.7 * baseline, horizon=1)["verdict"] == "worse"


def test_dm_widens_its_variance_for_overlapping_multi_step_errors():
    """Errors of 10-day forecasts from consecutive origins share 9 days: a naive i.i.d. test overstates |DM|."""
    model = np.convolve(RNG.normal(0, 1, 2009), np.ones(10), "valid")  # overlapping 10-day sums
    baseline = np.convolve(RNG.normal(0, 1.1, 2009), np.ones(10), "valid")
    with_lags = skill.diebold_mariano(model, baseline, horizon=10)
    without = skill.diebold_mariano(model, baseline, horizon=1)
    assert abs(with_lags["statistic"]) < 0.6 * abs(without["statistic"])
    assert with_lags["p_value"] > without["p_value"]


def test_dm_needs_a_few_errors():
    assert skill.diebold_mariano(np.array([1.0, 2.0]), np.array([1.0, 1.0]), 1)["p_value"] is None


def test_evaluate_command_prints_every_horizon(tmp_path, capsys):
    pytest.importorskip("tensorflow")
    artifact = shared_tiny_artifact()
    csv = tiny_csv(tmp_path, rows=400)
    capsys.readouterr()  # the training's own output
    argv = ["--csv", str(csv), "--model", str(artifact), "--years", "0.5", "--json", str(tmp_path / "r.json")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    lines = [line.split() for line in out.splitlines() if line[:3].strip().isdigit()]
    assert [int(line[0]) for line in lines] == [1, 5, 10, 20, 30]
    assert "rMAE/naive" in out and "rMAE/drift" in out and "Winkler" in out and "calm/turb" in out
    assert (tmp_path / "r.json").read_text().count('"horizon"') == 5


@pytest.mark.parametrize("argv, fragment", [(["--csv", "/nonexistent.csv"], "No such file"),
                                            (["--years", "50"], "too few forecast origins")])
def test_evaluate_command_errors_are_one_line(argv, fragment, tmp_path, capsys):
    pytest.importorskip("tensorflow")
    if "--csv" not in argv:
        argv = argv + ["--csv", str(tiny_csv(tmp_path, rows=50))]
    artifact = shared_tiny_artifact()
    capsys.readouterr()
    assert main(argv + ["--model", str(artifact)]) == 2
    err = capsys.readouterr().err
    assert fragment in err and err.count("\n") == 1
