"""Conformal forecast intervals on volatility-normalised cumulative log-return errors, and how to score them.

For an origin whose forecast spread of the h-day cumulative log return is s_h (app.volatility), the
normalised error is
    e_h = (actual_cum_log_return_h - predicted_cum_log_return_h) / s_h.
The split-conformal quantile q_h of |e_h| per horizon (calibrated on the validation part) gives bounds
    close * exp(predicted_cum_h -/+ q_h * s_h),
so intervals follow the forecast volatility at every horizon, at any price level.

`track_quantile` adds the online part: quantile tracking (the P term of conformal PID control, Angelopoulos,
Candes & Tibshirani 2023), which moves q up after each miss and down after each hit so that the miss rate
settles at the nominal one whatever the regime, fed only by forecasts whose outcome is already known.
"""
from __future__ import annotations

import math

import numpy as np

LEVELS = (0.80, 0.95)
# Step of the online update of log q per known outcome (quantile tracking). With 0.02, 100 forecasts at 70%
# instead of 80% coverage widen the band by 22%; figures in docs/intervals.md.
TRACKING_RATE = 0.02
# Horizon buckets for production coverage (metric labels and the performance report): few enough to keep the
# metric's series bounded, fine enough to show a band that holds at one day and fails at a month.
HORIZON_BUCKETS = (("1", 1, 1), ("2-5", 2, 5), ("6-10", 6, 10), ("11-20", 11, 20), ("21-30", 21, 30))


def horizon_bucket(step: int) -> str:
    """The bucket label of a horizon step; steps beyond the last bucket count in it."""
    for label, low, high in HORIZON_BUCKETS:
        if low <= step <= high:
            return label
    return HORIZON_BUCKETS[-1][0]


def level_key(level: float) -> str:
    """'80' for 0.80: the key used in the model card."""
    return str(int(round(level * 100)))


def normalised_errors(actual_cum: np.ndarray, predicted_cum: np.ndarray, spread: np.ndarray) -> np.ndarray:
    """(batch, horizon) errors divided by the forecast spread; NaN where the actual is unknown."""
    return (actual_cum - predicted_cum) / spread


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


def half_width(quantiles: dict, level: float, horizon: int) -> np.ndarray:
    """The calibrated q_1..q_horizon of one level."""
    return np.asarray(quantiles[level_key(level)]["upper"][:horizon], dtype=np.float64)


def bounds(last_close, predicted_cum: np.ndarray, spread: np.ndarray, q: np.ndarray):
    """(lower, upper) price bounds close * exp(predicted -/+ q * spread), shaped like predicted_cum.

    `q` broadcasts against predicted_cum: per horizon (horizon,) or per origin and horizon.
    """
    last = np.asarray(last_close, np.float64)[..., None]
    reach = np.asarray(q, np.float64) * spread
    return last * np.exp(predicted_cum - reach), last * np.exp(predicted_cum + reach)


def inside(errors: np.ndarray, q: np.ndarray) -> np.ndarray:
    """1.0 where |normalised error| <= q, 0.0 outside, NaN where the actual is unknown."""
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(errors), (np.abs(errors) <= q).astype(float), np.nan)


def coverage(errors: np.ndarray, q: np.ndarray, rows=None) -> np.ndarray:
    """Share of known actuals inside the interval per horizon, over `rows` (a mask; all by default)."""
    hits = inside(errors, q)
    if rows is not None:
        hits = hits[rows]
    with np.errstate(invalid="ignore"):
        return np.nanmean(hits, axis=0) if hits.size else np.full(errors.shape[1], np.nan)


def winkler_score(lower: np.ndarray, upper: np.ndarray, actual: np.ndarray, level: float) -> np.ndarray:
    """Interval score (Winkler 1972; Gneiting & Raftery 2007): width plus 2/alpha times the miss distance.

    Lower is better; a narrow interval that misses often scores worse than an honest wider one.
    """
    alpha = 1.0 - level
    below = np.maximum(lower - actual, 0.0)
    above = np.maximum(actual - upper, 0.0)
    return (upper - lower) + (2.0 / alpha) * (below + above)


def track_quantile(scores: np.ndarray, known_at: np.ndarray, q0: float, level: float, rate: float) -> np.ndarray:
    """Online quantile tracking: the q used at each step, from the outcomes known by then.

    scores[t] is |normalised error| of the forecast made at step t; its outcome becomes known at step
    known_at[t] (t + h for an h-day forecast). Each known outcome updates log q by rate * (miss - (1 - level)):
    a miss widens every later interval, a hit narrows it a little, and at equilibrium the miss rate is
    1 - level. Multiplicative so q stays positive and the rate means the same at every horizon.
    """
    scores = np.asarray(scores, dtype=np.float64)
    used = np.empty(scores.size)
    log_q = math.log(q0)
    pending: dict[int, list[int]] = {}
    for step, due in enumerate(np.asarray(known_at, dtype=np.int64)):
        pending.setdefault(int(due), []).append(step)
    for step in range(scores.size):
        for done in pending.pop(step, ()):  # outcomes that became known before this forecast is made
            if np.isfinite(scores[done]):
                miss = float(scores[done] > used[done])
                log_q += rate * (miss - (1.0 - level))
        used[step] = math.exp(log_q)
    return used
