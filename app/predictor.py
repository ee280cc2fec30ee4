"""Serving-side model: load one artifact of the model store (app/models/VERSION/) and forecast closes with
intervals (no TensorFlow)."""
from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app import intervals
from app.baselines import drift_cumulative
from app.forecasting import (
    ForecastInputError,
    InsufficientHistory,
    Standardiser,
    forecast_log_returns,
    min_history,
    origin_windows,
    recursive_forecast,
    require_history,
    validate_closes,
)
from app.lstm_numpy import NumpyLSTM, UnsupportedModel
from app.lstm_onnx import OnnxLSTM
from app.volatility import GarchParams, cumulative_spread

CARD_FILE = "model.json"
PREPROCESSING_FILE = "preprocessing.json"
WEIGHTS_FILE = "model_lstm.keras"


class ModelLoadError(Exception):
    """The model artifact is missing or corrupt; the message names the file."""


@dataclass(frozen=True)
class Forecast:
    """Forecast closes for steps 1..horizon with 80% and 95% interval bounds (arrays of length horizon),
    and the drift baseline's closes (registered so validation can score the model against it)."""

    close: np.ndarray
    lower_80: np.ndarray
    upper_80: np.ndarray
    lower_95: np.ndarray
    upper_95: np.ndarray
    drift: np.ndarray

    def to_dict(self) -> dict:
        """Plain lists, ready for JSON."""
        return {name: getattr(self, name).tolist() for name in self.__dataclass_fields__}


class Predictor:
    """An LSTM return model plus its scaler and card; forecasts any price series."""

    def __init__(self, lstm: OnnxLSTM | NumpyLSTM, scaler: Standardiser, card: dict):
        self.lstm, self.scaler, self.card = lstm, scaler, card
        self.window = int(card["window"])
        self.max_horizon = int(card["horizon"]["max"])
        self.volatility_window = int(card["intervals"]["volatility_window"])
        self.garch = GarchParams.from_dict(card["intervals"]["garch"])
        self.quantiles = card["intervals"].get("quantiles")  # None while training calibrates them
        self.min_history = min_history(self.window, self.volatility_window)
        self.version = str(card["version"])

    @classmethod
    def load(cls, model_dir: str | Path) -> Predictor:
        """Read model.json, preprocessing.json and the weights inside model_lstm.keras."""
        model_dir = Path(model_dir)
        card = _read_json(model_dir / CARD_FILE)
        preprocessing = _read_json(model_dir / PREPROCESSING_FILE)
        weights = model_dir / WEIGHTS_FILE
        if not weights.is_file():
            raise ModelLoadError(f"model file missing: {weights}")
        try:
            lstm = OnnxLSTM(NumpyLSTM.from_keras_file(weights))
        except (zipfile.BadZipFile, KeyError, OSError, ValueError, RuntimeError, UnsupportedModel) as exc:
            raise ModelLoadError(f"model file {weights} is corrupt or unsupported: {exc}") from exc
        try:
            scaler = Standardiser.from_dict(preprocessing["scaler"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelLoadError(f"{model_dir / PREPROCESSING_FILE} has no valid scaler: {exc}") from exc
        try:
            predictor = cls(lstm, scaler, card)
            if predictor.quantiles is None or len(predictor.quantiles["80"]["upper"]) < predictor.max_horizon:
                raise ValueError("interval quantiles missing or shorter than the maximum horizon")
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelLoadError(f"{model_dir / CARD_FILE} lacks a required field: {exc!r}") from exc
        return predictor

    def predict_paths(self, closes: np.ndarray, origins: np.ndarray, horizon: int):
        """Cumulative predicted log returns and their forecast spread, each (batch, horizon), per origin."""
        returns = np.diff(np.log(closes))
        predicted = forecast_log_returns(self.lstm.predict, self.scaler, returns, origins, self.window, horizon)
        return np.cumsum(predicted, axis=1), cumulative_spread(returns, origins, horizon, self.garch)

    def half_widths(self, level: float, horizon: int, adjustment=None) -> np.ndarray:
        """Normalised half-widths q_1..q_horizon of a level, times the production adjustment when given.

        `adjustment` maps a level key ('80') to per-horizon factors learnt online from validated forecasts.
        """
        q = intervals.half_width(self.quantiles, level, horizon)
        factors = (adjustment or {}).get(intervals.level_key(level))
        return q if factors is None else q * np.asarray(factors, np.float64)[:horizon]

    def forecast(self, closes, horizon: int = 1, adjustment=None) -> Forecast:
        """Recursive forecast of the next `horizon` closes after the last one, with 80%/95% intervals."""
        return self.forecast_with_backtest(closes, horizon, 0, adjustment)[0]

    def forecast_with_backtest(self, closes, horizon: int, backtest_days: int, adjustment=None):
        """forecast(closes, horizon) and one_step_backtest(closes, n) for up to `backtest_days` closes, in one pass.

        The backtest's windows and the forecast's first window go through the network as one batch (a forward
        pass costs about the same for 1 or 21 windows); n is cut to the closes available, and the backtest is
        None when there is no room for one. Results equal the separate calls up to float32 rounding.
        """
        if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) \
                or not 1 <= horizon <= self.max_horizon:
            raise ForecastInputError(f"horizon must be an integer from 1 to {self.max_horizon}, got {horizon!r}")
        closes = validate_closes(closes)
        require_history(closes, self.min_history)
        horizon = int(horizon)
        n = max(0, min(int(backtest_days), len(closes) - self.min_history))
        last = len(closes) - 1
        origins = np.arange(last - n, last + 1)  # the backtest's origins, then the forecast's
        returns = np.diff(np.log(closes))
        windows = origin_windows(self.scaler.transform(returns), origins, self.window)
        first = self.lstm.predict(windows)  # scaled next returns of every window
        later = recursive_forecast(self.lstm.predict, np.append(windows[-1, 1:], first[-1])[None, :], horizon - 1)
        cumulative = np.cumsum(self.scaler.inverse(np.append(first[-1], later[0])))
        origin = origins[-1:]
        spread = cumulative_spread(returns, origin, horizon, self.garch)[0]
        close = closes[-1]
        lower_80, upper_80 = intervals.bounds(close, cumulative, spread, self.half_widths(0.80, horizon, adjustment))
        lower_95, upper_95 = intervals.bounds(close, cumulative, spread, self.half_widths(0.95, horizon, adjustment))
        drift = close * np.exp(drift_cumulative(returns, origin, horizon)[0])
        forecast = Forecast(close * np.exp(cumulative), lower_80, upper_80, lower_95, upper_95, drift)
        if n == 0:
            return forecast, None
        tested = origins[:-1]
        return forecast, (closes[tested] * np.exp(self.scaler.inverse(first[:-1])), closes[tested + 1].copy())

    def one_step_backtest(self, closes, n: int):
        """(predicted, actual) for each of the last n closes, each predicted only from the closes before it."""
        closes = validate_closes(closes)
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ForecastInputError(f"backtest length must be a positive integer, got {n!r}")
        needed = int(n) + self.window + 1
        if len(closes) < needed:
            raise InsufficientHistory(f"a backtest of {n} closes needs at least {needed} rows, got {len(closes)}")
        origins = np.arange(len(closes) - n - 1, len(closes) - 1)
        returns = np.diff(np.log(closes))
        predicted = forecast_log_returns(self.lstm.predict, self.scaler, returns, origins, self.window, 1)
        return closes[origins] * np.exp(predicted[:, 0]), closes[origins + 1].copy()


def _read_json(path: Path) -> dict:
    """A JSON object from the artifact, or ModelLoadError naming the file."""
    if not path.is_file():
        raise ModelLoadError(f"model file missing: {path}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelLoadError(f"model file {path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ModelLoadError(f"model file {path} must hold a JSON object")
    return data
