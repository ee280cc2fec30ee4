"""Two models on the same recent closes: the comparison the retrain command prints before any production data."""
from __future__ import annotations

from app.predictor import Predictor
from modelTraining import evaluation
from modelTraining.data import Split, load_closes


def on_test_part(new: Predictor, others: list[Predictor], csv: str) -> dict:
    """One-step MAE, rMAE vs naive and 80% coverage (h=1) of each model on the new model's test part.

    The new model never saw these closes; older models may have (a champion trained on a longer history that
    reaches into them), which the caller says when printing.
    """
    hyper, selection = new.card["hyperparameters"], new.card["data"]["selection"]
    series = load_closes(csv, selection.get("start"), selection.get("end"), selection.get("last_years"))
    closes = series.to_numpy()
    split = Split.chronological(len(closes), new.window, new.volatility_window, hyper["train_fraction"],
                                hyper["val_fraction"])
    test = split.describe(series.index)["test"]
    rows = []
    for predictor in [new, *others]:
        one_step = evaluation.one_step_test(predictor, closes, split)
        bands = evaluation.one_step_bands(predictor, closes, split)
        realised = closes[split.origins("test") + 1]
        inside = (bands["lower_80"] <= realised) & (realised <= bands["upper_80"])
        rows.append({"version": predictor.version, "mae": one_step["lstm"]["mae"], "rmae": one_step["rmae"],
                     "coverage_80": float(inside.mean()),
                     "trained_until": predictor.card["data"]["splits"]["train"]["end"]})
    return {"from": test["start"], "to": test["end"], "n": one_step["rows"],
            "naive_mae": one_step["naive"]["mae"], "models": rows}


def describe(result: dict) -> str:
    lines = [f"On the new version's test part {result['from']}..{result['to']} ({result['n']} one-step forecasts, "
             f"naive MAE {result['naive_mae']:.4f}):"]
    for row in result["models"]:
        lines.append(f"  {row['version']:28} MAE {row['mae']:.4f}  rMAE {row['rmae']:.4f}  "
                     f"80% coverage {100 * row['coverage_80']:.1f}%  (trained until {row['trained_until']})")
    return "\n".join(lines)
