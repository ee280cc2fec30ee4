"""Split-conformal forecast intervals on volatility-normalised cumulative log-return errors.

For an origin with trailing volatility s and horizon h, the normalised error is
    e_h = (actual_cum_log_return_h - predicted_cum_log_return_h) / (s * sqrt(h)).
The split-conformal quantile q_h of |e_h| per horizon (calibrated on the validation part) gives bounds
    close * exp(predicted_cum_h -/+ q_h * s * sqrt(h)),
so intervals widen in turbulent regimes and narrow in calm ones, at any price level.
"""
from __future__ import annotations

import math

import numpy as np

LEVELS = (0.80, 0.95)


def level_key(level: float) -> str:
    """'80' for 0.80: the key used in the model card."""
    return str(int(round(level * 100)))


def normalised_errors(actual_cum: np.ndarray, predicted_cum: np.ndarray, volatility: np.ndarray) -> np.ndarray:
    """(batch, horizon) errors divided by volatility * sqrt(h); NaN where the actual is unknown."""
    horizons = np.sqrt(np.arange(1, actual_cum.shape[1] + 1))
    return (actual_cum - predicted_cum) / (volatility[:, None] * horizons)


def conformal_quantiles(errors: np.ndarray, levels=LEVELS) -> dict:
    """Per-horizon symmetric bounds (-q, +q) of |error| for each level, with the split-conformal rank.

    Symmetric scores (the standard split-conformal choice) rather than separate tail quantiles: a
    calibration period that happened to trend up or down would otherwise shift every interval that way.
    """
    result = {}
    for level in levels:
        upper = []
        for column in errors.T:
            scores = np.sort(np.abs(column[np.isfinite(column)]))
            n = scores.size
            if n < 2:
                raise ValueError(f"need at least 2 calibration errors per horizon, got {n}")
            # The ceil((n+1) * level)-th smallest score: finite-sample valid for exchangeable errors.
            upper.append(float(scores[min(n, math.ceil((n + 1) * level)) - 1]))
        result[level_key(level)] = {"lower": [-q for q in upper], "upper": upper}
    return result


def bounds(last_close, predicted_cum: np.ndarray, volatility, quantiles: dict, level: float):
    """(lower, upper) price bounds with the shape of predicted_cum: (horizon,) or (batch, horizon)."""
    horizon = predicted_cum.shape[-1]
    q = quantiles[level_key(level)]
    spread = np.asarray(volatility, np.float64)[..., None] * np.sqrt(np.arange(1, horizon + 1))
    last = np.asarray(last_close, np.float64)[..., None]
    lower = last * np.exp(predicted_cum + np.asarray(q["lower"][:horizon]) * spread)
    upper = last * np.exp(predicted_cum + np.asarray(q["upper"][:horizon]) * spread)
    return lower, upper


def coverage(actual_cum: np.ndarray, predicted_cum: np.ndarray, volatility: np.ndarray,
             quantiles: dict, level: float) -> np.ndarray:
    """Share of known actuals inside the interval, per horizon (NaN where no actual is known)."""
    errors = normalised_errors(actual_cum, predicted_cum, volatility)
    q = quantiles[level_key(level)]
    horizon = errors.shape[1]
    inside = (errors >= np.asarray(q["lower"][:horizon])) & (errors <= np.asarray(q["upper"][:horizon]))
    known = np.isfinite(errors)
    with np.errstate(invalid="ignore"):
        return np.where(known.any(axis=0), (inside & known).sum(axis=0) / known.sum(axis=0), np.nan)
