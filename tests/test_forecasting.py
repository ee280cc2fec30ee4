"""The shared preprocessing path, the interval maths and the NumPy LSTM (no TensorFlow needed)."""
import numpy as np
import pytest

from app import intervals
from app.forecasting import (
    ForecastInputError,
    Standardiser,
    forecast_log_returns,
    log_returns,
    min_history,
    origin_windows,
    realised_log_returns,
    recursive_forecast,
    supervised_pairs,
    trailing_volatility,
    validate_closes,
)
from app.lstm_numpy import NumpyLSTM, UnsupportedModel

SEED = 0
RNG = np.random.default_rng(SEED)

CLOSES = 100 * np.exp(np.cumsum(RNG.normal(0.0003, 0.01, 300)))


def reference_lstm(weights, x):
    """Textbook float64 LSTM with explicit sigmoid, Keras gate order (i, f, g, o)."""
    kernel, recurrent, bias, head_kernel, head_bias = weights
    units = recurrent.shape[0]
    sigmoid = lambda a: 1.0 / (1.0 + np.exp(-a))  # noqa: E731
    h = np.zeros((x.shape[0], units))
    c = np.zeros_like(h)
    for t in range(x.shape[1]):
        z = x[:, t, None] @ kernel + h @ recurrent + bias
        i, f = sigmoid(z[:, :units]), sigmoid(z[:, units:2 * units])
        g, o = np.tanh(z[:, 2 * units:3 * units]), sigmoid(z[:, 3 * units:])
        c = f * c + i * g
        h = o * np.tanh(c)
    return (h @ head_kernel + head_bias)[:, 0]


def random_weights(units=8, seed=1):
    rng = np.random.default_rng(seed)
    return [rng.normal(0, 0.5, (1, 4 * units)), rng.normal(0, 0.3, (units, 4 * units)),
            rng.normal(0, 0.1, 4 * units), rng.normal(0, 0.5, (units, 1)), rng.normal(0, 0.1, 1)]


def test_log_returns_do_not_depend_on_price_level():
    np.testing.assert_allclose(log_returns(CLOSES * 1000), log_returns(CLOSES), atol=1e-12)
    np.testing.assert_allclose(log_returns([1.0, 2.0, 1.0]), [np.log(2), -np.log(2)])


@pytest.mark.parametrize("closes, fragment", [
    ([1.0, -2.0, 3.0], "must be positive; row 1 is -2.0"),
    ([1.0, 0.0], "must be positive; row 1 is 0.0"),
    ([1.0, np.nan, 3.0], "must be numbers; row 1 is nan"),
    ([1.0, np.inf], "must be numbers; row 1 is inf"),
    ([[1.0, 2.0]], "must be a 1-D sequence"),
])
def test_bad_closes_are_rejected_with_the_row(closes, fragment):
    with pytest.raises(ForecastInputError, match=fragment.replace("(", r"\(")):
        validate_closes(closes)


def test_standardiser_round_trip_and_serialisation():
    returns = log_returns(CLOSES)
    scaler = Standardiser.fit(returns[:200])
    assert scaler.mean == pytest.approx(returns[:200].mean()) and scaler.std == pytest.approx(returns[:200].std())
    np.testing.assert_allclose(scaler.inverse(scaler.transform(returns)), returns)
    assert Standardiser.from_dict(scaler.to_dict()) == scaler
    assert Standardiser.fit(np.zeros(10)).std == 1.0  # a flat series still scales finitely


@pytest.mark.parametrize("data, fragment", [
    ({"type": "minmax", "mean": 0, "std": 1}, "unknown scaler type"),
    ({"type": "standardiser", "mean": 0, "std": 0}, "invalid mean/std"),
    ({"type": "standardiser", "mean": float("nan"), "std": 1}, "invalid mean/std"),
])
def test_standardiser_rejects_bad_dicts(data, fragment):
    with pytest.raises(ValueError, match=fragment):
        Standardiser.from_dict(data)


def test_supervised_pairs_use_only_returns_before_each_target():
    values = np.arange(50, dtype=float)
    x, y = supervised_pairs(values, window=5, start=10, stop=20)
    assert x.shape == (10, 5)
    np.testing.assert_array_equal(y, values[10:20])
    np.testing.assert_array_equal(x[:, -1], y - 1)  # the last input is the return right before the target
    np.testing.assert_array_equal(x[0], [5, 6, 7, 8, 9])


def test_origin_windows_reject_origins_outside_the_data():
    with pytest.raises(ValueError, match=r"origins must lie in \[5, 50\]"):
        origin_windows(np.zeros(50), np.array([4]), 5)


def test_recursive_forecast_feeds_predictions_back():
    windows = np.array([[0.0, 1.0, 2.0], [10.0, 20.0, 30.0]])
    out = recursive_forecast(lambda w: w[:, -1] + w[:, 0], windows, 3)
    np.testing.assert_array_equal(out, [[2.0, 3.0, 5.0], [40.0, 60.0, 90.0]])


def test_forecast_log_returns_unscales_model_output():
    scaler = Standardiser(mean=0.001, std=0.02)
    out = forecast_log_returns(lambda w: np.full(len(w), 0.5), scaler, log_returns(CLOSES),
                               np.array([100, 200]), 20, 4)
    np.testing.assert_allclose(out, 0.001 + 0.5 * 0.02)


def test_realised_log_returns_match_prices_and_stop_at_the_end():
    returns = log_returns(CLOSES)
    realised = realised_log_returns(returns, np.array([100, 297]), 3)
    np.testing.assert_allclose(realised[0], np.log(CLOSES[101:104] / CLOSES[100]))
    assert realised[1, 1] == pytest.approx(np.log(CLOSES[299] / CLOSES[297]))
    assert np.isnan(realised[1, 2])  # close 300 does not exist yet


def test_trailing_volatility_uses_the_span_before_the_origin_and_a_floor():
    returns = log_returns(CLOSES)
    vol = trailing_volatility(returns, np.array([20, 150]), 20, floor=0.0)
    assert vol[1] == pytest.approx(returns[130:150].std())
    assert trailing_volatility(np.zeros(40), np.array([30]), 20, floor=0.001)[0] == 0.001


def test_min_history_covers_window_and_volatility():
    assert min_history(60, 20) == 61 and min_history(10, 20) == 21


def test_conformal_quantiles_cover_the_calibration_errors_symmetrically():
    errors = RNG.normal(0.5, 1.0, (400, 3))
    quantiles = intervals.conformal_quantiles(errors)
    for key, level in (("80", 0.80), ("95", 0.95)):
        upper = np.asarray(quantiles[key]["upper"])
        np.testing.assert_array_equal(quantiles[key]["lower"], -upper)
        inside = (np.abs(errors) <= upper).mean(axis=0)
        assert np.all(inside >= level) and np.all(inside <= level + 0.01)
    assert np.all(np.asarray(quantiles["95"]["upper"]) > quantiles["80"]["upper"])


def test_conformal_quantiles_skip_unknown_errors_and_need_two():
    errors = np.array([[1.0, np.nan], [2.0, np.nan], [3.0, 1.0]])
    with pytest.raises(ValueError, match="at least 2 calibration errors"):
        intervals.conformal_quantiles(errors)


def test_bounds_nest_and_widen_with_the_spread():
    predicted = np.full(5, 0.001).cumsum()
    spread = 0.01 * np.sqrt(np.arange(1, 6))
    lo80, hi80 = intervals.bounds(100.0, predicted, spread, np.full(5, 1.3))
    lo95, hi95 = intervals.bounds(100.0, predicted, spread, np.full(5, 2.0))
    assert np.all(lo95 < lo80) and np.all(lo80 < 100 * np.exp(predicted)) and np.all(hi80 < hi95)
    assert np.all(np.diff(hi95 - lo95) > 0)
    wide_lo, wide_hi = intervals.bounds(100.0, predicted, 3 * spread, np.full(5, 1.3))
    assert np.all(wide_hi - wide_lo > hi80 - lo80)
    np.testing.assert_allclose(np.log(hi80 / 100.0) - predicted, 1.3 * spread)


def test_coverage_counts_only_known_actuals():
    errors = intervals.normalised_errors(np.array([[0.005, np.nan], [0.02, 0.0], [-0.001, 0.03]]),
                                         np.zeros((3, 2)), np.full((3, 2), 0.01))
    np.testing.assert_allclose(intervals.coverage(errors, np.array([1.0, 1.0])), [2 / 3, 0.5])
    np.testing.assert_allclose(intervals.coverage(errors, np.array([1.0, 1.0]), np.array([False, True, True])),
                               [0.5, 0.5])


def test_numpy_lstm_matches_a_textbook_lstm():
    weights = random_weights()
    model = NumpyLSTM.from_weights(weights)
    x = RNG.normal(0, 1, (5, 30))
    np.testing.assert_allclose(model.predict(x), reference_lstm(weights, x), rtol=1e-5, atol=1e-6)


def test_numpy_lstm_batches_and_blocks_give_the_same_outputs():
    model = NumpyLSTM.from_weights(random_weights(units=32))
    x = RNG.normal(0, 1, (150, 12))  # more rows than one block of the batched path
    batched = model.predict(x)
    single = np.array([model.predict(x[i:i + 1])[0] for i in range(len(x))])
    np.testing.assert_allclose(batched, single, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(model.predict(x[:, :, None]), batched)


def test_numpy_lstm_rejects_mismatched_weights():
    weights = random_weights()
    weights[3] = np.zeros((8, 2))
    with pytest.raises(UnsupportedModel, match="Dense\\(1\\)"):
        NumpyLSTM.from_weights(weights)
