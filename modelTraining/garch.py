"""The GARCH(1,1) parameters the served intervals use: fitted with `arch` (the field's library), then the
persistence chosen so that normalised errors look alike in calm and turbulent markets."""
from __future__ import annotations

import numpy as np
from arch import arch_model

from app import intervals
from app.forecasting import realised_log_returns, trailing_volatility
from app.volatility import GarchParams, cumulative_spread

# Persistence (alpha + beta) candidates tried besides the fitted one. Maximum likelihood fits one-day variance;
# its high persistence (about 0.99 on indices) carries today's regime a month ahead, and the 30-day bands then
# came out too narrow in calm markets and too wide in turbulent ones.
PERSISTENCE_CANDIDATES = (0.98, 0.95, 0.90)
REGIME_WINDOW = 20  # trading days of trailing volatility that sort origins into calm and turbulent halves


def fit_garch(returns: np.ndarray, floor: float) -> GarchParams:
    """Quasi-maximum likelihood GARCH(1,1) with a constant mean on daily log returns (training part only).

    Returns are scaled to percent for the optimiser; alpha and beta are scale-free. Only they are kept: the
    long-run variance is re-estimated from each series the model forecasts (variance targeting).
    """
    fitted = arch_model(100.0 * np.asarray(returns, float), mean="Constant", vol="GARCH", p=1, q=1,
                        dist="normal", rescale=False).fit(disp="off")
    return GarchParams(alpha=float(fitted.params["alpha[1]"]), beta=float(fitted.params["beta[1]"]), floor=floor)


def with_persistence(params: GarchParams, persistence: float) -> GarchParams:
    """The same share of reaction (alpha) in the persistence, scaled to a new alpha + beta."""
    share = params.alpha / (params.alpha + params.beta)
    return GarchParams(alpha=share * persistence, beta=(1 - share) * persistence, history=params.history,
                       floor=params.floor)


def regime_gap(returns: np.ndarray, origins: np.ndarray, predicted_cum: np.ndarray, params: GarchParams) -> float:
    """Mean |calm - turbulent| coverage gap (points) of conformal intervals calibrated on these origins."""
    horizon = predicted_cum.shape[1]
    spread = cumulative_spread(returns, origins, horizon, params)
    errors = intervals.normalised_errors(realised_log_returns(returns, origins, horizon), predicted_cum, spread)
    regime = trailing_volatility(returns, origins, REGIME_WINDOW, 0.0)
    turbulent = regime > np.median(regime)
    quantiles = intervals.conformal_quantiles(errors)
    gaps = []
    for level in intervals.LEVELS:
        q = intervals.half_width(quantiles, level, horizon)
        gaps.append(np.abs(intervals.coverage(errors, q, turbulent) - intervals.coverage(errors, q, ~turbulent)))
    return float(100 * np.nanmean(gaps))


def choose_garch(returns: np.ndarray, origins: np.ndarray, predicted_cum: np.ndarray,
                 fitted: GarchParams) -> tuple[GarchParams, dict]:
    """The candidate with the smallest calm/turbulent gap on the calibration origins, and every gap tried."""
    candidates = [fitted] + [with_persistence(fitted, p) for p in PERSISTENCE_CANDIDATES]
    gaps = {round(c.alpha + c.beta, 4): regime_gap(returns, origins, predicted_cum, c) for c in candidates}
    best = min(candidates, key=lambda c: gaps[round(c.alpha + c.beta, 4)])
    return best, {"persistence_gap_points": gaps}
