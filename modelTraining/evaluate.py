"""Check a model on any price series: `python -m modelTraining.evaluate --csv FILE [--model DIR] [--years 5]`.

Every trading day of the last N years is a forecast origin (the closes before it are the history the model
sees, as a user's upload would be); each forecasts 1..30 days ahead through the serving code. Prints, per
horizon, rMAE against naive and drift with Diebold-Mariano p-values, and the 80% and 95% intervals' coverage
overall, in calm and turbulent markets, their width and Winkler score, as served and with online tracking.
No TensorFlow needed.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from app.model_store import ModelStore
from app.predictor import ModelLoadError, Predictor
from modelTraining import backtest
from modelTraining.data import load_closes

REPO = Path(__file__).resolve().parent.parent


# Origins whose 30-day outcome is known, at the least: fewer make coverage figures mostly sampling noise.
MIN_SCORED_ORIGINS = 30


def origins_in_last_years(dates: pd.DatetimeIndex, years: float, first_allowed: int, horizon: int) -> np.ndarray:
    """Indices of the closes in the last `years` years (each a forecast origin), the final close excluded."""
    cutoff = dates[-1] - pd.DateOffset(days=round(365.25 * years))
    start = max(int(dates.searchsorted(cutoff, side="right")), first_allowed)
    scored = len(dates) - 1 - horizon - start + 1
    if scored < MIN_SCORED_ORIGINS:
        raise ValueError(f"too few forecast origins: {len(dates)} closes leave {max(scored, 0)} origins with a known "
                         f"{horizon}-day outcome (the model needs {first_allowed + 1} closes before the first); "
                         f"need {MIN_SCORED_ORIGINS}: use a longer series or more --years")
    return np.arange(start, len(dates) - 1)


def evaluate(csv: str, model_dir: str, years: float) -> tuple[list[dict], str]:
    """The per-horizon rows and the printable table for one series."""
    predictor = Predictor.load(model_dir)
    series = load_closes(csv)
    origins = origins_in_last_years(series.index, years, predictor.min_history - 1, predictor.max_horizon)
    bt = backtest.Backtest.run(predictor, series.to_numpy(), origins, predictor.max_horizon)
    rows = backtest.table(bt, predictor.quantiles)
    dates = series.index[origins]
    title = (f"{Path(csv).name}: {len(origins)} origins {dates[0].date()}..{dates[-1].date()}, "
             f"model {predictor.version} (coverage in percent)")
    return rows, backtest.format_table(rows, title)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m modelTraining.evaluate", description=__doc__.splitlines()[0])
    p.add_argument("--csv", required=True, help="price CSV with Date and Close columns")
    p.add_argument("--model", default=None, help="artifact folder (default: the model store's default champion)")
    p.add_argument("--years", type=float, default=5.0, help="use every trading day of the last N years as origin")
    p.add_argument("--json", help="also write the rows to this JSON file")
    args = p.parse_args(argv)
    try:
        model = args.model or ModelStore(REPO / "app" / "models").default_champion_path()
        rows, text = evaluate(args.csv, model, args.years)
    except (FileNotFoundError, ValueError, ModelLoadError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
