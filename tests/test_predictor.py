"""The serving model: the committed artifact, forecasts at any price level, backtests, load errors,
and equality of the served (ONNX Runtime) and NumPy forward passes with Keras on the same artifact."""
import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from app.forecasting import ForecastInputError, InsufficientHistory, forecast_log_returns
from app.lstm_onnx import OnnxLSTM
from app.predictor import CARD_FILE, PREPROCESSING_FILE, WEIGHTS_FILE, Forecast, ModelLoadError, Predictor
from tests.server import champion_dir

ROOT = Path(__file__).resolve().parent.parent
MODEL_DIR = champion_dir()
GSPC = pd.read_csv(ROOT / "downloadData" / "data" / "GSPC_data.csv")["Close"].to_numpy()


@pytest.fixture(scope="module")
def predictor():
    return Predictor.load(MODEL_DIR)


def test_committed_artifact_loads_with_its_card(predictor):
    card = predictor.card
    assert predictor.max_horizon == 30 and predictor.min_history == card["min_history"] == 61
    assert predictor.version == card["version"] and card["window"] == 60
    assert card["features"] == ["close_log_return"]
    assert card["evaluation"]["part"] == "test" and isinstance(card["evaluation"]["beats_naive"], bool)
    assert (MODEL_DIR / card["plot"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("horizon", [1, 7, 30])
def test_forecast_has_nested_intervals_of_the_requested_length(predictor, horizon):
    result = predictor.forecast(GSPC[-300:], horizon)
    assert isinstance(result, Forecast)
    for name, values in result.to_dict().items():
        assert len(values) == horizon, name
    assert np.all(result.lower_95 < result.lower_80) and np.all(result.lower_80 < result.close)
    assert np.all(result.close < result.upper_80) and np.all(result.upper_80 < result.upper_95)


def test_intervals_widen_with_the_horizon(predictor):
    result = predictor.forecast(GSPC[-300:], 30)
    width = result.upper_95 - result.lower_95
    assert width[29] > 2 * width[0]


@pytest.mark.parametrize("last_close", [5.0, 5000.0])
def test_one_artifact_serves_any_price_level(predictor, last_close):
    """A $5 stock and a $5,000 index with the same daily moves get the same relative forecast."""
    shape = GSPC[-250:] / GSPC[-1]
    cheap = predictor.forecast(shape * 5.0, 30)
    scaled = predictor.forecast(shape * last_close, 30)
    for name in ("close", "lower_80", "upper_80", "lower_95", "upper_95"):
        np.testing.assert_allclose(getattr(scaled, name) / last_close, getattr(cheap, name) / 5.0, rtol=1e-9)
    assert np.all(np.abs(scaled.close[:5] / last_close - 1) < 0.03)  # sensible: near the last close
    assert np.all(np.abs(scaled.close / last_close - 1) < 0.15)


@pytest.mark.parametrize("horizon, fragment", [
    (0, "from 1 to 30, got 0"), (31, "from 1 to 30, got 31"), (2.5, "got 2.5"), (True, "got True"), ("3", "got '3'"),
])
def test_bad_horizon_is_a_user_error(predictor, horizon, fragment):
    with pytest.raises(ForecastInputError, match=fragment):
        predictor.forecast(GSPC[-100:], horizon)


@pytest.mark.parametrize("closes, error, fragment", [
    (GSPC[-60:], InsufficientHistory, "need at least 61 rows of closing prices, got 60"),
    (np.r_[GSPC[-100:-1], -1.0], ForecastInputError, "must be positive; row 99 is -1.0"),
    (np.r_[np.nan, GSPC[-100:]], ForecastInputError, "must be numbers; row 0 is nan"),
])
def test_bad_closes_are_user_errors(predictor, closes, error, fragment):
    with pytest.raises(error, match=fragment):
        predictor.forecast(closes, 1)


@pytest.mark.parametrize("horizon, days", [(1, 20), (30, 20), (5, 0), (3, 500)])
def test_one_batched_pass_gives_the_forecast_and_backtest_of_separate_calls(predictor, horizon, days):
    closes = GSPC[-252:]
    forecast, backtest = predictor.forecast_with_backtest(closes, horizon, days)
    alone = predictor.forecast(closes, horizon)
    for name in Forecast.__dataclass_fields__:  # float32 rounding differs with the batch size, nothing else
        np.testing.assert_allclose(getattr(forecast, name), getattr(alone, name), rtol=1e-9)
    if days == 0:
        assert backtest is None
        return
    n = min(days, len(closes) - predictor.min_history)  # cut to the closes available
    predicted, actual = predictor.one_step_backtest(closes, n)
    np.testing.assert_allclose(backtest[0], predicted, rtol=1e-9)
    np.testing.assert_array_equal(backtest[1], actual)


@pytest.mark.parametrize("horizon", [1, 7, 30])
def test_the_batched_forecast_equals_the_path_forecast_with_garch_intervals_and_drift(predictor, horizon):
    """The one-pass forecast gives what the path evaluation (predict_paths, GARCH spread, drift baseline) gives,
    with and without the production adjustment of the intervals."""
    from app import intervals
    from app.baselines import drift_cumulative

    closes = GSPC[-252:]
    adjustment = {"80": [1.0 + 0.01 * k for k in range(predictor.max_horizon)],
                  "95": [1.2] * predictor.max_horizon}
    origin = np.array([len(closes) - 1])
    cumulative, spread = predictor.predict_paths(closes, origin, horizon)
    drift = closes[-1] * np.exp(drift_cumulative(np.diff(np.log(closes)), origin, horizon)[0])
    for adjust in (None, adjustment):
        lower_80, upper_80 = intervals.bounds(closes[-1], cumulative[0], spread[0],
                                              predictor.half_widths(0.80, horizon, adjust))
        lower_95, upper_95 = intervals.bounds(closes[-1], cumulative[0], spread[0],
                                              predictor.half_widths(0.95, horizon, adjust))
        expected = Forecast(closes[-1] * np.exp(cumulative[0]), lower_80, upper_80, lower_95, upper_95, drift)
        batched, _ = predictor.forecast_with_backtest(closes, horizon, 20, adjust)
        for got in (batched, predictor.forecast(closes, horizon, adjustment=adjust)):
            for name in Forecast.__dataclass_fields__:
                np.testing.assert_allclose(getattr(got, name), getattr(expected, name), rtol=1e-9, err_msg=name)
        np.testing.assert_array_equal(batched.drift, drift)


def test_one_step_backtest_uses_only_earlier_closes(predictor):
    closes = GSPC[-200:].copy()
    predicted, actual = predictor.one_step_backtest(closes, 20)
    assert predicted.shape == actual.shape == (20,)
    np.testing.assert_array_equal(actual, closes[-20:])
    # Each backtest forecast equals a plain forecast from the closes before its target...
    for k in (0, 7, 19):
        target = len(closes) - 20 + k
        # float32 batch vs single row
        assert predicted[k] == pytest.approx(predictor.forecast(closes[:target], 1).close[0], rel=1e-7)
    # ...so changing the later closes leaves it unchanged.
    changed = closes.copy()
    changed[-10:] *= 1.5
    np.testing.assert_allclose(predictor.one_step_backtest(changed, 20)[0][:10], predicted[:10], rtol=1e-12)


def test_one_step_backtest_needs_window_plus_n_rows(predictor):
    with pytest.raises(InsufficientHistory, match="a backtest of 50 closes needs at least 111 rows, got 100"):
        predictor.one_step_backtest(GSPC[-100:], 50)
    with pytest.raises(ForecastInputError, match="positive integer"):
        predictor.one_step_backtest(GSPC[-100:], 0)


@pytest.fixture
def artifact_copy(tmp_path):
    target = tmp_path / "model"
    shutil.copytree(MODEL_DIR, target)
    return target


@pytest.mark.parametrize("name", [CARD_FILE, PREPROCESSING_FILE, WEIGHTS_FILE])
def test_missing_file_is_named(artifact_copy, name):
    (artifact_copy / name).unlink()
    with pytest.raises(ModelLoadError, match=f"model file missing: .*{name}"):
        Predictor.load(artifact_copy)


@pytest.mark.parametrize("name, content, fragment", [
    (WEIGHTS_FILE, b"not a zip", "model_lstm.keras is corrupt"),
    (CARD_FILE, b"{truncated", "model.json is not valid JSON"),
    (CARD_FILE, b"[]", "model.json must hold a JSON object"),
    (CARD_FILE, b'{"window": 60}', "model.json lacks a required field"),
    (PREPROCESSING_FILE, b'{"scaler": {"type": "minmax"}}', "preprocessing.json has no valid scaler"),
])
def test_corrupt_file_is_named(artifact_copy, name, content, fragment):
    (artifact_copy / name).write_bytes(content)
    with pytest.raises(ModelLoadError, match=fragment):
        Predictor.load(artifact_copy)


def test_weights_missing_inside_the_keras_zip_is_named(artifact_copy):
    path = artifact_copy / WEIGHTS_FILE
    with zipfile.ZipFile(path) as archive:
        config = archive.read("config.json")
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", config)
    with pytest.raises(ModelLoadError, match="model_lstm.keras is corrupt or unsupported"):
        Predictor.load(artifact_copy)


def test_card_quantiles_must_cover_the_max_horizon(artifact_copy):
    card = json.loads((artifact_copy / CARD_FILE).read_text())
    card["intervals"]["quantiles"]["80"]["upper"] = card["intervals"]["quantiles"]["80"]["upper"][:5]
    (artifact_copy / CARD_FILE).write_text(json.dumps(card))
    with pytest.raises(ModelLoadError, match="quantiles missing or shorter"):
        Predictor.load(artifact_copy)


# --- Keras equivalence: the served NumPy forward pass equals model.predict on the same artifact ---

@pytest.fixture(scope="module")
def keras_model():
    keras = pytest.importorskip("keras")
    return keras.saving.load_model(MODEL_DIR / WEIGHTS_FILE, compile=False)


def test_served_and_numpy_forward_passes_equal_keras_predict(predictor, keras_model):
    returns = np.diff(np.log(GSPC))
    windows = predictor.scaler.transform(returns)[np.arange(100, 4000, 37)[:, None] + np.arange(-60, 0)]
    expected = keras_model.predict(windows[..., None], verbose=0)[:, 0]
    assert isinstance(predictor.lstm, OnnxLSTM)  # what the API serves
    np.testing.assert_allclose(predictor.lstm.predict(windows), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(predictor.lstm.network.predict(windows), expected, rtol=1e-5, atol=1e-6)


def test_served_forecasts_equal_keras_recursive_forecasts(predictor, keras_model):
    closes = GSPC[-500:]
    served = predictor.forecast(closes, 30).close
    step = lambda w: keras_model.predict(w[..., None], verbose=0)[:, 0]  # noqa: E731
    returns = np.diff(np.log(closes))
    keras_returns = forecast_log_returns(step, predictor.scaler, returns, np.array([len(returns)]), 60, 30)[0]
    via_keras = closes[-1] * np.exp(np.cumsum(keras_returns))
    assert np.max(np.abs(served - via_keras) / via_keras) <= 1e-5


def test_other_architectures_are_refused(tmp_path, artifact_copy):
    keras = pytest.importorskip("keras")
    model = keras.Sequential([keras.Input((60, 1)), keras.layers.LSTM(4, return_sequences=True),
                              keras.layers.LSTM(4), keras.layers.Dense(1)])
    model.save(artifact_copy / WEIGHTS_FILE)
    with pytest.raises(ModelLoadError, match="expected Sequential.*got layers \\['LSTM', 'LSTM', 'Dense'\\]"):
        Predictor.load(artifact_copy)
