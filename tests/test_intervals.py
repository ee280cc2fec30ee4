"""Interval mechanisms on constructed data where the right answer is known: GARCH volatility term structure,
conformal calibration, online quantile tracking, Winkler score, and the drift baseline."""
import math

import numpy as np
import pytest

from app import intervals
from app.baselines import drift_cumulative, drift_rate
from app.forecasting import realised_log_returns, trailing_volatility
from app.volatility import GarchParams, cumulative_spread, next_day_variance

SEED = 12
RNG = np.random.default_rng(SEED)

TRUE = GarchParams(alpha=0.08, beta=0.90, history=500, floor=1e-5)


def simulate_garch(n, params=TRUE, daily_sd=0.012, rng=None):
    """Returns whose variance follows GARCH(1,1) around daily_sd**2: calm and turbulent spells alternate."""
    rng = RNG if rng is None else rng
    target = daily_sd ** 2
    omega = (1 - params.alpha - params.beta) * target
    sigma2, out = target, np.empty(n)
    for t in range(n):
        out[t] = math.sqrt(sigma2) * rng.standard_normal()
        sigma2 = omega + params.alpha * out[t] ** 2 + params.beta * sigma2
    return out


def regime_coverage(returns, origins, spread, calibrate, level, horizon):
    """Coverage overall / calm / turbulent on the origins after `calibrate`, with q from the ones before it."""
    realised = realised_log_returns(returns, origins, horizon)
    errors = intervals.normalised_errors(realised, np.zeros_like(realised), spread)
    q = intervals.half_width(intervals.conformal_quantiles(errors[:calibrate], (level,)), level, horizon)
    test = errors[calibrate:]
    regime = trailing_volatility(returns, origins[calibrate:], 20, 0.0)
    turbulent = regime > np.median(regime)
    return (intervals.coverage(test, q), intervals.coverage(test, q, ~turbulent),
            intervals.coverage(test, q, turbulent))


@pytest.fixture(scope="module")
def heteroscedastic():
    returns = simulate_garch(12_000, rng=np.random.default_rng(SEED))  # module-scoped: its own generator
    origins = np.arange(600, len(returns) - 30)
    return returns, origins


def test_garch_intervals_hold_in_calm_and_turbulent_markets_where_fixed_ones_miss(heteroscedastic):
    returns, origins = heteroscedastic
    horizon, calibrate = 10, 4000
    adaptive = cumulative_spread(returns, origins, horizon, TRUE)
    fixed = np.broadcast_to(returns.std() * np.sqrt(np.arange(1, horizon + 1)), adaptive.shape)
    for level in intervals.LEVELS:
        overall, calm, turbulent = regime_coverage(returns, origins, adaptive, calibrate, level, horizon)
        for h in (0, 4, 9):
            assert abs(overall[h] - level) < 0.03, (level, h, overall[h])
            assert abs(calm[h] - level) < 0.05 and abs(turbulent[h] - level) < 0.05, (level, h, calm[h], turbulent[h])
        overall, calm, turbulent = regime_coverage(returns, origins, fixed, calibrate, level, horizon)
        # Fixed width: too wide when calm and too narrow when turbulent; the turbulent half misses the goal.
        assert calm[0] > level + 0.03 and turbulent[0] < level - 0.05, (level, calm[0], turbulent[0])


def test_next_day_variance_is_the_textbook_recursion_with_variance_targeting():
    returns = RNG.normal(0, 0.01, 50)
    params = GarchParams(alpha=0.1, beta=0.8, history=30, floor=1e-6)
    sigma2, target = next_day_variance(returns, np.array([40]), params)
    window = returns[10:40]
    expected_target = window.var()
    s2 = expected_target
    for r in window:
        s2 = 0.1 * expected_target + 0.1 * r ** 2 + 0.8 * s2
    assert target[0] == pytest.approx(expected_target) and sigma2[0] == pytest.approx(s2)


def test_spread_reverts_to_the_long_run_variance_over_the_horizon():
    calm_then_storm = np.concatenate([RNG.normal(0, 0.01, 400), RNG.normal(0, 0.04, 10)])
    spread = cumulative_spread(calm_then_storm, np.array([410]), 600, TRUE)[0]
    _, target = next_day_variance(calm_then_storm, np.array([410]), TRUE)
    daily = np.diff(np.concatenate([[0.0], spread ** 2]))
    assert np.all(np.diff(daily) < 0)  # after a shock each further day is expected calmer...
    assert daily[-1] == pytest.approx(target[0], rel=0.01)  # ...down to the long-run level
    assert spread[0] > math.sqrt(target[0])


def test_an_early_origin_reads_only_the_history_it_has():
    returns = RNG.normal(0, 0.01, 700)
    both, _ = next_day_variance(returns, np.array([30, 650]), TRUE)
    alone, _ = next_day_variance(returns, np.array([30]), TRUE)
    assert both[0] == pytest.approx(alone[0])
    with pytest.raises(ValueError, match="origins"):
        next_day_variance(returns, np.array([1]), TRUE)


def test_garch_params_refuse_explosive_values():
    with pytest.raises(ValueError, match="alpha \\+ beta < 1"):
        GarchParams(alpha=0.2, beta=0.85)


def test_tracking_restores_coverage_after_the_scale_doubles():
    n, level = 6000, 0.8
    scale = np.where(np.arange(n) < n // 2, 1.0, 2.0)
    scores = np.abs(RNG.standard_normal(n)) * scale
    q0 = float(np.quantile(np.abs(RNG.standard_normal(5000)), level))
    tracked = intervals.track_quantile(scores, np.arange(n) + 5, q0, level, rate=0.02)
    second = slice(n // 2 + 1000, None)  # after the tracker had time to adapt
    static_cover = np.mean(scores[second] <= q0)
    tracked_cover = np.mean(scores[second] <= tracked[second])
    assert static_cover < 0.55  # the calibrated width now misses nearly half the time
    assert abs(tracked_cover - level) < 0.03


def test_tracking_only_uses_outcomes_already_known():
    scores = np.full(10, 100.0)  # every forecast misses
    never = intervals.track_quantile(scores, np.full(10, 99), 1.0, 0.8, rate=0.1)
    assert np.all(never == 1.0)
    lagged = intervals.track_quantile(scores, np.arange(10) + 3, 1.0, 0.8, rate=0.1)
    np.testing.assert_allclose(lagged[:3], 1.0)  # nothing known before step 3
    np.testing.assert_allclose(lagged[3], math.exp(0.1 * 0.8))  # one miss (1 - 0.2) known at step 3


def test_winkler_score_is_width_plus_the_penalised_miss():
    lower, upper = np.array([90.0, 90.0, 90.0]), np.array([110.0, 110.0, 110.0])
    actual = np.array([100.0, 85.0, 112.0])
    np.testing.assert_allclose(intervals.winkler_score(lower, upper, actual, 0.8), [20.0, 20 + 10 * 5, 20 + 10 * 2])


def test_horizon_buckets_cover_every_step_once():
    labels = [intervals.horizon_bucket(step) for step in range(1, 31)]
    assert labels[0] == "1" and labels[4] == "2-5" and labels[9] == "6-10" and labels[29] == "21-30"
    assert [b[0] for b in intervals.HORIZON_BUCKETS] == list(dict.fromkeys(labels))


def test_drift_forecast_is_the_mean_past_log_return_times_the_horizon():
    returns = np.concatenate([np.full(100, 0.01), np.full(50, -0.02)])
    assert drift_rate(returns, np.array([100]))[0] == pytest.approx(0.01)
    assert drift_rate(returns, np.array([150]), history=50)[0] == pytest.approx(-0.02)
    assert drift_rate(returns, np.array([150]), history=100)[0] == pytest.approx((50 * 0.01 - 50 * 0.02) / 100)
    np.testing.assert_allclose(drift_cumulative(returns, np.array([100]), 3)[0], [0.01, 0.02, 0.03])
