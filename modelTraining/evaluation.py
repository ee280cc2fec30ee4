"""Honest evaluation in price units: one-step LSTM vs naive persistence, and the skill summary per horizon."""
from __future__ import annotations

import numpy as np

from app import intervals
from app.predictor import Predictor
from modelTraining.data import Split


def price_metrics(predicted: np.ndarray, actual: np.ndarray) -> dict:
    """MAE, RMSE (price units) and MAPE (percent)."""
    error = np.asarray(predicted, float) - np.asarray(actual, float)
    return {"mae": float(np.mean(np.abs(error))), "rmse": float(np.sqrt(np.mean(error ** 2))),
            "mape": float(100.0 * np.mean(np.abs(error) / np.abs(actual)))}


def one_step_test(predictor: Predictor, closes: np.ndarray, split: Split) -> dict:
    """One-step forecasts for every test close through the serving path, against naive (tomorrow = today)."""
    n = split.n_returns - split.val_end
    predicted, actual = predictor.one_step_backtest(closes, n)
    naive = closes[-n - 1:-1]
    lstm_m, naive_m = price_metrics(predicted, actual), price_metrics(naive, actual)
    rmae = lstm_m["mae"] / naive_m["mae"]
    t_stat = mae_difference_t(predicted, naive, actual)
    return {"rows": n, "lstm": lstm_m, "naive": naive_m, "rmae": rmae, "beats_naive": bool(rmae < 1.0),
            "mae_difference_t": t_stat, "verdict": verdict(rmae, t_stat),
            "_series": {"predicted": predicted, "actual": actual, "naive": naive}}


def mae_difference_t(predicted: np.ndarray, naive: np.ndarray, actual: np.ndarray) -> float:
    """Diebold-Mariano-style t statistic of |LSTM error| - |naive error| (negative = LSTM better)."""
    diff = np.abs(predicted - actual) - np.abs(naive - actual)
    spread = diff.std(ddof=1)
    return float(diff.mean() / (spread / np.sqrt(diff.size))) if spread > 0 else 0.0


def verdict(rmae: float, t_stat: float) -> str:
    """One plain sentence about LSTM vs naive on the test part, including whether the gap is noise."""
    change = abs(1.0 - rmae) * 100
    noise = (" The gap is not statistically significant (|t| < 2), so in practice the model is only as good "
             "as the naive forecast." if abs(t_stat) < 2 else "")
    if rmae < 1.0:
        return (f"The LSTM beats the naive forecast (tomorrow = today) on the test part: its MAE is "
                f"{change:.2f}% lower (rMAE {rmae:.4f}, t = {t_stat:.2f}).{noise}")
    return (f"The LSTM does NOT beat the naive forecast (tomorrow = today) on the test part: its MAE is "
            f"{change:.2f}% higher (rMAE {rmae:.4f}, t = {t_stat:.2f}); treat its point forecasts as no better "
            f"than the last close.")


def skill_summary(rows: list[dict]) -> list[str]:
    """Plain sentences: at which horizons the LSTM beats naive and drift, and where it does not."""
    lines = []
    for baseline in ("naive", "drift"):
        for outcome, words in (("better", "beats"), ("worse", "is beaten by"), ("tie", "is no better than")):
            hs = [str(r["horizon"]) for r in rows if r[baseline]["verdict"] == outcome]
            if hs:
                lines.append(f"The LSTM {words} the {baseline} forecast at horizon(s) {', '.join(hs)} "
                             f"(Diebold-Mariano, 5% level{'; the gap is noise' if outcome == 'tie' else ''}).")
    return lines


def one_step_bands(predictor: Predictor, closes: np.ndarray, split: Split) -> dict:
    """80% bounds of the one-step test forecasts, for the plot."""
    origins = split.origins("test")
    predicted, spread = predictor.predict_paths(closes, origins, 1)
    lower, upper = intervals.bounds(closes[origins], predicted, spread, predictor.half_widths(0.80, 1))
    return {"lower_80": lower[:, 0], "upper_80": upper[:, 0]}
