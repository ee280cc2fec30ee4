"""Whether one forecast beats another: relative MAE and the Diebold-Mariano test on absolute errors."""
from __future__ import annotations

import math

import numpy as np
from scipy import stats

SIGNIFICANCE = 0.05  # two-sided p-value below which a difference in accuracy counts as real


def diebold_mariano(model_error: np.ndarray, baseline_error: np.ndarray, horizon: int) -> dict:
    """DM test of equal mean absolute error, with the Harvey-Leybourne-Newbold small-sample correction.

    h-step forecasts from consecutive origins overlap, so their loss differences are autocorrelated up to lag
    h - 1: the variance uses those autocovariances (rectangular kernel, as Diebold and Mariano proposed; Bartlett
    weights when that estimate is not positive). Negative statistic = the model's errors are smaller.
    """
    d = np.abs(np.asarray(model_error, float)) - np.abs(np.asarray(baseline_error, float))
    d = d[np.isfinite(d)]
    n = d.size
    if n < 3:
        return {"statistic": None, "p_value": None, "n": int(n)}
    centred = d - d.mean()
    autocov = [float(centred[k:] @ centred[:n - k]) / n for k in range(min(horizon, n - 1))]
    variance = autocov[0] + 2 * sum(autocov[1:])
    if variance <= 0:
        variance = autocov[0] + 2 * sum((1 - k / horizon) * g for k, g in enumerate(autocov[1:], start=1))
    if variance <= 0:
        return {"statistic": 0.0, "p_value": 1.0, "n": int(n)}
    statistic = d.mean() / math.sqrt(variance / n)
    correction = math.sqrt((n + 1 - 2 * horizon + horizon * (horizon - 1) / n) / n) if n > 2 * horizon else 1.0
    statistic *= correction
    p_value = 2 * stats.t.sf(abs(statistic), df=n - 1)
    return {"statistic": float(statistic), "p_value": float(p_value), "n": int(n)}


def compare(model_error: np.ndarray, baseline_error: np.ndarray, horizon: int) -> dict:
    """rMAE (model MAE / baseline MAE), the DM test, and the verdict 'better', 'worse' or 'tie'."""
    model_mae = float(np.nanmean(np.abs(model_error)))
    baseline_mae = float(np.nanmean(np.abs(baseline_error)))
    rmae = model_mae / baseline_mae if baseline_mae > 0 else math.nan
    dm = diebold_mariano(model_error, baseline_error, horizon)
    significant = dm["p_value"] is not None and dm["p_value"] < SIGNIFICANCE
    verdict = "tie" if not significant else ("better" if rmae < 1 else "worse")
    return {"rmae": rmae, "dm": dm["statistic"], "p_value": dm["p_value"], "verdict": verdict}
