"""Honest evaluation in price units: LSTM vs naive persistence, interval calibration and coverage."""
from __future__ import annotations

import numpy as np

from app import intervals
from app.forecasting import realised_log_returns
from app.predictor import Predictor
from modelTraining.data import Split

REPORTED_HORIZONS = (1, 5, 10, 30)


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


def multi_step_rmae(predictor: Predictor, closes: np.ndarray, split: Split, horizon: int) -> dict:
    """rMAE of the recursive h-step forecast vs naive (flat) for a few horizons on the test part."""
    origins = split.origins("test")
    predicted, _ = predictor.predict_paths(closes, origins, horizon)
    realised = realised_log_returns(np.diff(np.log(closes)), origins, horizon)
    result = {}
    for h in (h for h in REPORTED_HORIZONS if h <= horizon):
        known = np.isfinite(realised[:, h - 1])
        base, actual = closes[origins][known], closes[origins][known] * np.exp(realised[known, h - 1])
        lstm_mae = np.mean(np.abs(base * np.exp(predicted[known, h - 1]) - actual))
        result[str(h)] = float(lstm_mae / np.mean(np.abs(base - actual)))
    return result


def calibrate_intervals(predictor: Predictor, closes: np.ndarray, split: Split, horizon: int) -> tuple[dict, int]:
    """Split-conformal quantiles per horizon from validation origins whose targets stay inside validation."""
    origins = split.origins("validation")
    predicted, volatility = predictor.predict_paths(closes, origins, horizon)
    # Cut the returns at the validation end so no test close enters the calibration.
    realised = realised_log_returns(np.diff(np.log(closes))[:split.val_end], origins, horizon)
    errors = intervals.normalised_errors(realised, predicted, volatility)
    return intervals.conformal_quantiles(errors), len(origins)


def interval_coverage(predictor: Predictor, closes: np.ndarray, split: Split, quantiles: dict, horizon: int) -> dict:
    """Empirical coverage of the 80% and 95% intervals on test origins, at h=1, a few horizons and the mean."""
    origins = split.origins("test")
    predicted, volatility = predictor.predict_paths(closes, origins, horizon)
    realised = realised_log_returns(np.diff(np.log(closes)), origins, horizon)
    report = {}
    for level in intervals.LEVELS:
        per_h = intervals.coverage(realised, predicted, volatility, quantiles, level)
        report[intervals.level_key(level)] = {
            "nominal": level,
            "by_horizon": {str(h): round(float(per_h[h - 1]), 4) for h in REPORTED_HORIZONS if h <= horizon},
            "mean_over_horizons": round(float(np.nanmean(per_h)), 4),
            "per_horizon": [round(float(v), 4) for v in per_h],
        }
    return report


def one_step_bands(predictor: Predictor, closes: np.ndarray, split: Split, quantiles: dict) -> dict:
    """80% bounds of the one-step test forecasts, for the plot."""
    origins = split.origins("test")
    predicted, volatility = predictor.predict_paths(closes, origins, 1)
    lower, upper = intervals.bounds(closes[origins], predicted, volatility, quantiles, 0.80)
    return {"lower_80": lower[:, 0], "upper_80": upper[:, 0]}
