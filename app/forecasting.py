"""The one preprocessing path shared by training and serving: log returns, scaling, windows, recursion.

Index convention: for closes c[0..N-1] the returns are r[j] = log(c[j+1] / c[j]), j = 0..N-2.
A forecast "origin" o is the index of the last known close; its input window is r[o-window:o]
(the `window` returns ending at c[o]) and its one-step target is r[o], i.e. the close c[o+1].
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

FEATURES = ("close_log_return",)

# step(windows of scaled returns, shape (batch, window)) -> next scaled return, shape (batch,)
StepFunction = Callable[[np.ndarray], np.ndarray]


class ForecastInputError(ValueError):
    """Prices or arguments the model cannot forecast from (a user mistake, not a server fault)."""


class InsufficientHistory(ForecastInputError):
    """Fewer closes than the model's window needs."""


def validate_closes(closes) -> np.ndarray:
    """Closes as a 1-D float64 array; finite and positive, else ForecastInputError."""
    values = np.asarray(closes, dtype=np.float64)
    if values.ndim != 1:
        raise ForecastInputError(f"closes must be a 1-D sequence, got shape {values.shape}")
    if not np.all(np.isfinite(values)):
        bad = int(np.flatnonzero(~np.isfinite(values))[0])
        raise ForecastInputError(f"close prices must be numbers; row {bad} is {values[bad]}")
    if np.any(values <= 0):
        bad = int(np.flatnonzero(values <= 0)[0])
        raise ForecastInputError(f"close prices must be positive; row {bad} is {values[bad]}")
    return values


def log_returns(closes) -> np.ndarray:
    """Daily log returns of the closes (length N-1); scale-free, so any price level looks alike."""
    return np.diff(np.log(validate_closes(closes)))


def min_history(window: int, volatility_window: int) -> int:
    """Closes needed for one forecast: `window` returns for the LSTM and enough for the volatility."""
    return max(window, volatility_window) + 1


def require_history(closes: np.ndarray, needed: int) -> None:
    """Raise InsufficientHistory with the exact counts when there are too few closes."""
    if len(closes) < needed:
        raise InsufficientHistory(f"need at least {needed} rows of closing prices, got {len(closes)}")


@dataclass(frozen=True)
class Standardiser:
    """Mean/std scaling of returns, fit on the training part only."""

    mean: float
    std: float

    @classmethod
    def fit(cls, returns: np.ndarray) -> Standardiser:
        """Fit on training returns; a constant series gets std 1 so scaling stays finite."""
        returns = np.asarray(returns, dtype=np.float64)
        if returns.size < 2:
            raise ValueError("need at least 2 training returns to fit the scaler")
        std = float(returns.std())
        return cls(mean=float(returns.mean()), std=std if std > 0 else 1.0)

    def transform(self, returns: np.ndarray) -> np.ndarray:
        """Returns -> scaled returns."""
        return (np.asarray(returns, dtype=np.float64) - self.mean) / self.std

    def inverse(self, scaled: np.ndarray) -> np.ndarray:
        """Scaled returns -> returns."""
        return np.asarray(scaled, dtype=np.float64) * self.std + self.mean

    def to_dict(self) -> dict:
        return {"type": "standardiser", "mean": self.mean, "std": self.std}

    @classmethod
    def from_dict(cls, data: dict) -> Standardiser:
        """Inverse of to_dict; KeyError/ValueError on a malformed dict."""
        if data.get("type") != "standardiser":
            raise ValueError(f"unknown scaler type {data.get('type')!r}")
        mean, std = float(data["mean"]), float(data["std"])
        if not (np.isfinite(mean) and np.isfinite(std) and std > 0):
            raise ValueError(f"scaler has invalid mean/std: {mean}, {std}")
        return cls(mean=mean, std=std)


def origin_windows(scaled_returns: np.ndarray, origins: np.ndarray, window: int) -> np.ndarray:
    """Input windows (len(origins), window): row k is scaled_returns[o-window:o] for o = origins[k]."""
    origins = np.asarray(origins, dtype=np.int64)
    if origins.size and (origins.min() < window or origins.max() > len(scaled_returns)):
        raise ValueError(f"origins must lie in [{window}, {len(scaled_returns)}]")
    return scaled_returns[origins[:, None] - window + np.arange(window)]


def supervised_pairs(scaled_returns: np.ndarray, window: int, start: int, stop: int):
    """Training pairs (X, y) for target returns r[start:stop]; inputs only use returns before each target."""
    origins = np.arange(max(start, window), stop)
    return origin_windows(scaled_returns, origins, window), scaled_returns[origins]


def recursive_forecast(step: StepFunction, windows: np.ndarray, horizon: int) -> np.ndarray:
    """Scaled returns for steps 1..horizon, (batch, horizon): each prediction is fed back as an input."""
    windows = np.array(windows, dtype=np.float64, copy=True)
    out = np.empty((windows.shape[0], horizon))
    for h in range(horizon):
        out[:, h] = step(windows)
        windows = np.concatenate([windows[:, 1:], out[:, h:h + 1]], axis=1)
    return out


def forecast_log_returns(step: StepFunction, scaler: Standardiser, returns: np.ndarray,
                         origins: np.ndarray, window: int, horizon: int) -> np.ndarray:
    """Predicted daily log returns (len(origins), horizon) from each origin, batched over origins."""
    windows = origin_windows(scaler.transform(returns), origins, window)
    return scaler.inverse(recursive_forecast(step, windows, horizon))


def trailing_volatility(returns: np.ndarray, origins: np.ndarray, span: int, floor: float) -> np.ndarray:
    """Std of the `span` returns before each origin, floored so flat stretches keep a non-zero interval."""
    origins = np.asarray(origins, dtype=np.int64)
    if origins.size and origins.min() < span:
        raise ValueError(f"volatility needs origins >= {span}")
    windows = np.lib.stride_tricks.sliding_window_view(np.asarray(returns, dtype=np.float64), span)
    return np.maximum(windows[origins - span].std(axis=1), floor)


def realised_log_returns(returns: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
    """Actual cumulative log returns log(c[o+h]/c[o]) for h = 1..horizon; NaN where not yet known."""
    cumulative = np.concatenate([[0.0], np.cumsum(returns)])
    origins = np.asarray(origins, dtype=np.int64)
    targets = origins[:, None] + np.arange(1, horizon + 1)
    known = targets < len(cumulative)
    out = np.full(targets.shape, np.nan)
    out[known] = cumulative[targets[known]] - cumulative[np.broadcast_to(origins[:, None], targets.shape)[known]]
    return out
