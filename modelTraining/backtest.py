"""Rolling-origin evaluation through the serving code: every origin forecasts 1..H days; scored per horizon.

For each horizon: rMAE against naive and drift with a Diebold-Mariano test, and for each interval level the
coverage overall, in the calm and in the turbulent half of the origins (split at the median trailing
volatility), the mean width and the Winkler score (both in percent of the last close, comparable across
series). Coverage is given for the calibrated intervals as served and with online quantile tracking
(`app.intervals.track_quantile`), which is what production adds from validated forecasts.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app import intervals
from app.baselines import drift_cumulative
from app.forecasting import realised_log_returns, trailing_volatility
from app.predictor import Predictor
from modelTraining import skill

REPORTED_HORIZONS = (1, 5, 10, 20, 30)
REGIME_WINDOW = 20  # trading days of the trailing volatility that sorts origins into calm and turbulent


@dataclass
class Backtest:
    """The forecasts of every origin, in cumulative log returns, with what happened."""

    last_close: np.ndarray  # (n,)
    realised: np.ndarray  # (n, H), NaN where not yet known
    model: np.ndarray
    drift: np.ndarray
    spread: np.ndarray
    turbulent: np.ndarray  # (n,) bool: trailing volatility above the median of these origins

    @classmethod
    def run(cls, predictor: Predictor, closes: np.ndarray, origins: np.ndarray, horizon: int) -> Backtest:
        returns = np.diff(np.log(closes))
        model, spread = predictor.predict_paths(closes, origins, horizon)
        regime = trailing_volatility(returns, origins, REGIME_WINDOW, 0.0)
        return cls(closes[origins], realised_log_returns(returns, origins, horizon), model,
                   drift_cumulative(returns, origins, horizon), spread, regime > np.median(regime))

    def errors(self) -> np.ndarray:
        """Normalised errors of the model's forecasts (the conformal scores, signed)."""
        return intervals.normalised_errors(self.realised, self.model, self.spread)

    def price_errors(self, cumulative: np.ndarray) -> np.ndarray:
        """Forecast minus actual close, price units."""
        return self.last_close[:, None] * (np.exp(cumulative) - np.exp(self.realised))

    def tracked_half_widths(self, quantiles: dict, level: float, rate: float = intervals.TRACKING_RATE) -> np.ndarray:
        """(n, H) half-widths after online quantile tracking, each horizon fed by its outcomes h days later."""
        scores = np.abs(self.errors())
        n, horizon = scores.shape
        q0 = intervals.half_width(quantiles, level, horizon)
        return np.stack([intervals.track_quantile(scores[:, h], np.arange(n) + h + 1, q0[h], level, rate)
                         for h in range(horizon)], axis=1)


def interval_block(bt: Backtest, q: np.ndarray, level: float, h: int) -> dict:
    """Coverage overall / calm / turbulent, width and Winkler score of one level at horizon h (percent)."""
    col = h - 1
    errors = bt.errors()[:, col:col + 1]
    q_h = np.broadcast_to(q, bt.spread.shape)[:, col:col + 1]
    known = np.isfinite(errors[:, 0])
    lower, upper = intervals.bounds(bt.last_close, bt.model[:, col:col + 1], bt.spread[:, col:col + 1], q_h)
    actual = bt.last_close[:, None] * np.exp(bt.realised[:, col:col + 1])
    scale = 100.0 / bt.last_close[known]
    return {
        "coverage": 100 * float(intervals.coverage(errors, q_h)[0]),
        "calm": 100 * float(intervals.coverage(errors, q_h, ~bt.turbulent)[0]),
        "turbulent": 100 * float(intervals.coverage(errors, q_h, bt.turbulent)[0]),
        "width": float(np.mean((upper - lower)[known, 0] * scale)),
        "winkler": float(np.mean(intervals.winkler_score(lower, upper, actual, level)[known, 0] * scale)),
    }


def table(bt: Backtest, quantiles: dict, horizons=REPORTED_HORIZONS, tracking: bool = True) -> list[dict]:
    """One row per horizon: skill against both baselines, and each level's intervals (static and tracked)."""
    horizon = bt.model.shape[1]
    naive_err = bt.price_errors(np.zeros_like(bt.model))
    model_err, drift_err = bt.price_errors(bt.model), bt.price_errors(bt.drift)
    tracked = {level: bt.tracked_half_widths(quantiles, level) for level in intervals.LEVELS} if tracking else {}
    rows = []
    for h in (h for h in horizons if h <= horizon):
        known = np.isfinite(bt.realised[:, h - 1])
        row = {"horizon": h, "n": int(known.sum()),
               "naive": skill.compare(model_err[known, h - 1], naive_err[known, h - 1], h),
               "drift": skill.compare(model_err[known, h - 1], drift_err[known, h - 1], h),
               "drift_vs_naive": skill.compare(drift_err[known, h - 1], naive_err[known, h - 1], h)}
        for level in intervals.LEVELS:
            key = intervals.level_key(level)
            row[key] = interval_block(bt, intervals.half_width(quantiles, level, horizon), level, h)
            if tracking:
                row[f"{key}_tracked"] = interval_block(bt, tracked[level], level, h)
        rows.append(row)
    return rows


def format_table(rows: list[dict], title: str) -> str:
    """The table as fixed-width text (also pasted into docs/intervals.md)."""
    lines = [title,
             "  h     n  rMAE/naive (DM p)   rMAE/drift (DM p)  | 80% cov  calm/turb  width  Winkler |"
             " 95% cov  calm/turb  width  Winkler | tracked 80% calm/turb | tracked 95% calm/turb"]
    for r in rows:
        parts = [f"{r['horizon']:3d} {r['n']:5d}  "
                 f"{r['naive']['rmae']:.4f} ({r['naive']['p_value']:.3f})  "
                 f"{r['drift']['rmae']:.4f} ({r['drift']['p_value']:.3f})"]
        for key in ("80", "95"):
            b = r[key]
            parts.append(f"{b['coverage']:6.1f}  {b['calm']:4.1f}/{b['turbulent']:4.1f} {b['width']:6.2f}  "
                         f"{b['winkler']:6.2f}")
        for key in ("80_tracked", "95_tracked"):
            if key in r:
                b = r[key]
                parts.append(f"{b['coverage']:6.1f} {b['calm']:4.1f}/{b['turbulent']:4.1f}")
        lines.append(" | ".join(parts))
    lines.append("  width and Winkler score: percent of the last close; DM p: Diebold-Mariano two-sided p-value")
    return "\n".join(lines)
