"""Train the LSTM on a price CSV and write the serving artifact (weights, scaler, card, plot)."""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):  # `cd modelTraining && python train_lstm.py`: make the repository importable
    sys.path.insert(0, str(REPO))

from app import intervals  # noqa: E402
from app.errors import InvalidInput  # noqa: E402
from app.forecasting import FEATURES, Standardiser, log_returns, min_history, supervised_pairs  # noqa: E402
from app.lstm_numpy import NumpyLSTM  # noqa: E402
from app.lstm_onnx import OnnxLSTM  # noqa: E402
from app.predictor import CARD_FILE, PREPROCESSING_FILE, WEIGHTS_FILE, Predictor  # noqa: E402
from modelTraining import backtest, evaluation, garch  # noqa: E402
from modelTraining.data import Split, load_closes  # noqa: E402

PLOT_FILE = "test_forecast.png"


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines the artifact; recorded in the card."""

    csv: str = str(REPO / "downloadData" / "data" / "GSPC_data.csv")
    out: str = str(REPO / "app" / "model")
    window: int = 60
    units: int = 32
    epochs: int = 60
    batch_size: int = 64
    learning_rate: float = 3e-4
    dropout: float = 0.2
    patience: int = 10
    loss: str = "mse"
    seed: int = 42
    train_fraction: float = 0.70
    val_fraction: float = 0.15
    volatility_window: int = 20
    max_horizon: int = 30
    start: str | None = None
    end: str | None = None
    last_years: float | None = None


def train(config: TrainConfig) -> dict:
    """Fit, calibrate, evaluate and write the artifact into config.out; returns the card."""
    started = time.perf_counter()
    series = load_closes(config.csv, config.start, config.end, config.last_years)
    closes = series.to_numpy()
    returns = log_returns(closes)
    split = Split.chronological(len(closes), config.window, config.volatility_window,
                                config.train_fraction, config.val_fraction)
    scaler = Standardiser.fit(returns[:split.train_end])  # training returns only: no look-ahead
    scaled = scaler.transform(returns)
    first_origin = min_history(config.window, config.volatility_window) - 1
    train_pairs = supervised_pairs(scaled, config.window, first_origin, split.train_end)
    val_pairs = supervised_pairs(scaled, config.window, split.train_end, split.val_end)
    parts = split.describe(series.index)
    print(f"{Path(config.csv).name}: {len(closes)} closes {parts['train']['start']}..{parts['test']['end']}; "
          f"train {parts['train']['rows']}, validation {parts['validation']['rows']}, test {parts['test']['rows']} "
          f"rows; {len(train_pairs[1])} training windows of {config.window}", flush=True)

    from modelTraining import keras_model  # TensorFlow loads only once the data is known to be usable

    keras_model.make_deterministic(config.seed)
    model = keras_model.build_model(config.window, config.units, config.learning_rate, config.loss, config.dropout)
    fit_started = time.perf_counter()
    fit_info = keras_model.fit(model, train_pairs, val_pairs, config.epochs, config.batch_size, config.patience)
    fit_info["fit_seconds"] = round(time.perf_counter() - fit_started, 2)

    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=_ensure_dir(Path(config.out).parent)))
    try:
        model.save(staging / WEIGHTS_FILE)
        reference = NumpyLSTM.from_keras_file(staging / WEIGHTS_FILE)
        lstm = OnnxLSTM(reference)  # evaluated and calibrated with the forward pass that serves it
        keras_out = model.predict(val_pairs[0][..., None], verbose=0)[:, 0]
        fit_info["numpy_vs_keras_max_abs_diff"] = float(np.max(np.abs(reference.predict(val_pairs[0]) - keras_out)))
        fit_info["served_vs_keras_max_abs_diff"] = float(np.max(np.abs(lstm.predict(val_pairs[0]) - keras_out)))
        fitted_garch = garch.fit_garch(returns[:split.train_end], floor=0.1 * scaler.std)
        card = _card(config, series, split, scaler, fit_info, model.get_weights(), keras_model.library_versions())
        card["intervals"]["garch"] = fitted_garch.to_dict()
        _calibrate(card, lstm, scaler, closes, split, config.max_horizon, fitted_garch)
        predictor = Predictor(lstm, scaler, card)
        one_step = evaluation.one_step_test(predictor, closes, split)
        series_for_plot = one_step.pop("_series")
        test = backtest.Backtest.run(predictor, closes, split.origins("test"), config.max_horizon)
        rows = backtest.table(test, card["intervals"]["quantiles"])
        print(backtest.format_table(rows, "Test part, rolling origins (coverage in percent):"), flush=True)
        card["evaluation"] = {"part": "test", **one_step, "by_horizon": rows,
                              "skill": evaluation.skill_summary(rows)}
        card["training"]["total_seconds"] = round(time.perf_counter() - started, 2)
        _write_json(staging / PREPROCESSING_FILE, {"scaler": scaler.to_dict(), "feature": FEATURES[0],
                                                   "fit_on": "training returns only", **parts["train"]})
        _write_json(staging / CARD_FILE, card)
        bands = evaluation.one_step_bands(predictor, closes, split)
        evaluation_dates = series.index[split.val_end + 1:]
        from modelTraining.plot import plot_test_forecasts
        plot_test_forecasts(staging / PLOT_FILE, evaluation_dates, series_for_plot, bands,
                            f"{Path(config.csv).name} test part: one-step forecasts (rMAE {one_step['rmae']:.4f})",
                            fit_info)
        _publish(staging, Path(config.out))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _print_summary(card, config.out)
    return card


def _calibrate(card, lstm, scaler, closes, split, horizon, fitted_garch) -> None:
    """Choose the GARCH persistence and calibrate the conformal quantiles on every origin before the test part.

    All pre-test origins, not the validation part alone: three calm years (2013-2015 on the S&P 500) gave
    quantiles that shrank with the horizon and 30-day bands that missed a quarter of the time in later years.
    Targets are cut at the validation end, so no test close enters. The network barely fits its training
    returns (best epoch and losses in the card), so its in-sample errors are as large as its later ones.
    """
    origins = np.arange(max(split.window, 2), split.val_end)
    known = closes[:split.val_end + 1]
    calibration = Predictor(lstm, scaler, card)  # through the serving code path
    predicted, _ = calibration.predict_paths(known, origins, horizon)
    chosen, selection = garch.choose_garch(np.diff(np.log(known)), origins, predicted, fitted_garch)
    card["intervals"]["garch"] = chosen.to_dict()
    card["intervals"]["garch_selection"] = {"fitted": fitted_garch.to_dict(), **selection}
    calibration = Predictor(lstm, scaler, card)
    errors = backtest.Backtest.run(calibration, known, origins, horizon).errors()
    card["intervals"].update(quantiles=intervals.conformal_quantiles(errors), calibration_origins=int(len(origins)))


def _card(config, series, split, scaler, fit_info, weights, libraries) -> dict:
    """The model card without intervals' quantiles and evaluation (filled in after calibration)."""
    digest = hashlib.sha256(b"".join(np.asarray(w, np.float32).tobytes() for w in weights)).hexdigest()
    created = dt.datetime.now(dt.UTC)
    hyper = {k: v for k, v in asdict(config).items() if k not in ("csv", "out", "start", "end", "last_years")}
    return {
        "version": f"{created:%Y%m%dT%H%M%SZ}-{digest[:8]}",
        "created_at": created.isoformat(timespec="seconds"),
        "weights_sha256": digest,
        "model": {"file": WEIGHTS_FILE,
                  "architecture": f"Input({config.window}, 1) -> LSTM({config.units}) -> "
                                  f"Dropout({config.dropout}, training only) -> Dense(1)",
                  "target": "next day's close log return, standardised",
                  "served_by": "ONNX Runtime's LSTM kernel on these weights (app/lstm_onnx.py), no TensorFlow"},
        "data": {"file": Path(config.csv).name, "rows": int(len(series)), "start": str(series.index[0].date()),
                 "end": str(series.index[-1].date()), "selection": {"start": config.start, "end": config.end,
                                                                    "last_years": config.last_years},
                 "splits": split.describe(series.index)},
        "features": list(FEATURES),
        "window": config.window,
        "min_history": min_history(config.window, config.volatility_window),
        "preprocessing": {"file": PREPROCESSING_FILE, "scaler": "standardiser (mean/std of daily log returns)",
                          "fit_on": "training part returns only"},
        "horizon": {"max": config.max_horizon,
                    "method": "recursive: each predicted daily return is fed back as the newest input "
                              "to predict the next day; closes = last close * exp(cumulative predicted return)"},
        "intervals": {"levels": [0.80, 0.95], "volatility_window": config.volatility_window,
                      "method": "split-conformal on every origin before the test part, per horizon h: q = conformal "
                                "quantile of |actual - predicted cumulative log return| / s_h, where s_h is the "
                                "GARCH(1,1) forecast standard deviation of the h-day return (variance targeted on "
                                "the series' own last 500 returns); bounds = last close * exp(predicted -/+ q * s_h). "
                                "Production multiplies q by a factor learnt online from validated forecasts "
                                "(quantile tracking); see docs/intervals.md"},
        "hyperparameters": hyper,
        "training": {**fit_info,
                     "early_stopping": f"val_loss, patience {config.patience}, best weights restored"},
        "libraries": libraries,
        "plot": PLOT_FILE,
    }


def _print_summary(card: dict, out: str) -> None:
    """The evaluation as a few readable lines."""
    ev, test = card["evaluation"], card["data"]["splits"]["test"]
    print(f"\nTest part {test['start']}..{test['end']} ({ev['rows']} one-step forecasts), price units:")
    print(f"  {'':6} {'MAE':>12} {'RMSE':>12} {'MAPE %':>8}")
    for name in ("lstm", "naive"):
        m = ev[name]
        print(f"  {name:6} {m['mae']:12.4f} {m['rmse']:12.4f} {m['mape']:8.3f}")
    print(f"  rMAE {ev['rmae']:.4f} (one step). {ev['verdict']}")
    for line in ev["skill"]:
        print(f"  {line}")
    t = card["training"]
    print(f"Trained {t['epochs_run']} epochs (best {t['best_epoch']}) in {t['fit_seconds']} s, total "
          f"{t['total_seconds']} s. Artifact {card['version']} -> {out}")


def _ensure_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def _publish(staging: Path, out: Path) -> None:
    """Move the finished files into place one by one (each os.replace is atomic); a failed run changes nothing."""
    _ensure_dir(out)
    for name in (WEIGHTS_FILE, PREPROCESSING_FILE, PLOT_FILE, CARD_FILE):  # card last: it announces the version
        os.replace(staging / name, out / name)


def build_parser() -> argparse.ArgumentParser:
    """Command-line options; defaults come from TrainConfig."""
    d = TrainConfig()
    p = argparse.ArgumentParser(prog="python -m modelTraining.train_lstm",
                                description="Train the close-return LSTM and write the serving artifact.")
    p.add_argument("--csv", default=d.csv, help="price CSV with Date and Close columns (default: GSPC sample)")
    p.add_argument("--out", default=d.out, help="artifact folder (default: app/model)")
    p.add_argument("--window", type=int, default=d.window, help="input window in trading days (default 60)")
    p.add_argument("--units", type=int, default=d.units, help="LSTM units (default 32)")
    p.add_argument("--epochs", type=int, default=d.epochs, help="maximum epochs (early stopping may end sooner)")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="mini-batch size (default 64)")
    p.add_argument("--learning-rate", type=float, default=d.learning_rate, help="Adam learning rate (default 3e-4)")
    p.add_argument("--dropout", type=float, default=d.dropout, help="dropout after the LSTM while training")
    p.add_argument("--patience", type=int, default=d.patience, help="early-stopping patience in epochs")
    p.add_argument("--loss", default=d.loss, choices=["mse", "mae", "huber"], help="training loss")
    p.add_argument("--seed", type=int, default=d.seed, help="random seed (same data + seed = same metrics)")
    p.add_argument("--train-fraction", type=float, default=d.train_fraction, help="chronological train share")
    p.add_argument("--val-fraction", type=float, default=d.val_fraction, help="validation share; rest is test")
    p.add_argument("--volatility-window", type=int, default=d.volatility_window, help="days for interval volatility")
    p.add_argument("--max-horizon", type=int, default=d.max_horizon, help="longest forecast in trading days")
    p.add_argument("--start", help="use rows from this date (YYYY-MM-DD)")
    p.add_argument("--end", help="use rows up to this date (YYYY-MM-DD)")
    p.add_argument("--last-years", type=float, help="use only the last N years of the CSV")
    return p


def main(argv: list[str] | None = None) -> int:
    """CLI entry point: bad input ends with one line on stderr and exit status 2."""
    config = TrainConfig(**{k.replace("-", "_"): v for k, v in vars(build_parser().parse_args(argv)).items()})
    try:
        train(config)
    except InvalidInput as exc:  # the CSV: the same message the API would answer
        print(f"error: {config.csv}: {exc.message}", file=sys.stderr)
        return 2
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
