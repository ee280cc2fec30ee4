"""The two forecasts every model claim is measured against: naive (persistence) and drift.

naive: every future close equals the last close.
drift: last close * exp(h * mean daily log return of the last DRIFT_HISTORY returns), the random walk with
drift. Over long horizons a market's drift alone beats naive, so a model only shows skill by beating both.
"""
from __future__ import annotations

import numpy as np

# About five years of trading days: enough returns for a stable mean, recent enough to reflect the stock.
DRIFT_HISTORY = 1260


def drift_rate(returns: np.ndarray, origins: np.ndarray, history: int = DRIFT_HISTORY) -> np.ndarray:
    """Mean daily log return of the (up to) `history` returns before each origin, shaped (len(origins),)."""
    returns = np.asarray(returns, dtype=np.float64)
    origins = np.asarray(origins, dtype=np.int64)
    if origins.size and (origins.min() < 1 or origins.max() > len(returns)):
        raise ValueError(f"origins must lie in [1, {len(returns)}]")
    cumulative = np.concatenate([[0.0], np.cumsum(returns)])
    start = np.maximum(origins - history, 0)
    return (cumulative[origins] - cumulative[start]) / (origins - start)


def drift_cumulative(returns: np.ndarray, origins: np.ndarray, horizon: int,
                     history: int = DRIFT_HISTORY) -> np.ndarray:
    """(len(origins), horizon): the drift forecast's cumulative log return h * mean for h = 1..horizon."""
    return drift_rate(returns, origins, history)[:, None] * np.arange(1, horizon + 1)
