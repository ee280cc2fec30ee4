"""Drift watch: do the recent daily returns of the tickers people forecast still look like the training returns?

For each ticker with recent realised closes in the registry (uploads, fetched histories, POST /monitoring/actuals)
it compares the last DRIFT_WINDOW_RETURNS daily log returns with the champion's training returns: the two-sample
Kolmogorov-Smirnov statistic (the largest gap between the two empirical distribution functions, 0 = same,
1 = disjoint) and the ratio of their standard deviations. Both are scale-free, so any price level compares.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from sqlalchemy import func, select

from app.monitoring.registry import ForecastRegistry, as_date
from app.monitoring.storage import actuals
from app.monitoring.validation import MAX_CLOSE_GAP_DAYS
from app.thresholds import INPUT_RETURNS_DRIFT, INPUT_VOLATILITY_SHIFT

DRIFT_WINDOW_RETURNS = 60  # about three months of sessions
DRIFT_MIN_RETURNS = 20  # fewer returns say too little to compare
DRIFT_LOOKBACK_DAYS = 120  # closes older than this (calendar days) are not recent
MAX_TICKERS = 100  # the tickers with the newest closes; the page and the gauges stay bounded


def ks_statistic(sample: np.ndarray, reference: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic: sup |F_sample(x) - F_reference(x)|.

    Written out (a sort and two searches) rather than taken from scipy, which the server does not install;
    tests/test_drift.py checks it against scipy.stats.ks_2samp.
    """
    sample, reference = np.sort(np.asarray(sample, float)), np.sort(np.asarray(reference, float))
    if sample.size == 0 or reference.size == 0:
        raise ValueError("both samples need at least one value")
    points = np.concatenate([sample, reference])
    gap = (np.searchsorted(sample, points, side="right") / sample.size
           - np.searchsorted(reference, points, side="right") / reference.size)
    return float(np.max(np.abs(gap)))


def volatility_ratio(sample: np.ndarray, reference: np.ndarray) -> float:
    """Standard deviation of the sample over that of the reference (2 = twice as volatile)."""
    return float(np.std(sample, ddof=1) / np.std(reference, ddof=1))


def recent_returns(closes: pd.Series, window: int = DRIFT_WINDOW_RETURNS) -> np.ndarray:
    """Daily log returns of the last `window` + 1 closes, only between closes at most a long weekend apart."""
    closes = closes.sort_index().iloc[-(window + 1):]
    if len(closes) < 2:
        return np.empty(0)
    values = np.asarray(closes.to_numpy(), float)
    gaps = np.diff(closes.index.to_numpy()).astype("timedelta64[D]").astype(int)
    return np.diff(np.log(values))[gaps <= MAX_CLOSE_GAP_DAYS]


@dataclass(frozen=True)
class TickerDrift:
    ticker: str
    returns: int
    last_date: str
    ks: float
    volatility_ratio: float

    @property
    def drifting(self) -> bool:
        return self.ks > INPUT_RETURNS_DRIFT.value or self.volatility_ratio > INPUT_VOLATILITY_SHIFT.value

    def as_dict(self) -> dict:
        return {**asdict(self), "drifting": self.drifting}


def drift_by_ticker(registry: ForecastRegistry, reference: np.ndarray, today=None) -> list[TickerDrift]:
    """The drift of every ticker with at least DRIFT_MIN_RETURNS recent returns, most drifted first."""
    today = dt.date.today() if today is None else as_date(today)
    since = today - dt.timedelta(days=DRIFT_LOOKBACK_DAYS)
    newest = (select(actuals.c.ticker).where(actuals.c.date >= since, actuals.c.date <= today)
              .group_by(actuals.c.ticker).order_by(func.max(actuals.c.date).desc(), actuals.c.ticker)
              .limit(MAX_TICKERS))
    with registry.engine.connect() as conn:
        tickers = list(conn.execute(newest).scalars())
    found = []
    for ticker in tickers:
        closes = registry.actual_closes(ticker, since, today)
        returns = recent_returns(closes)
        if returns.size >= DRIFT_MIN_RETURNS:
            found.append(TickerDrift(ticker, int(returns.size), closes.index[-1].date().isoformat(),
                                     ks_statistic(returns, reference), volatility_ratio(returns, reference)))
    return sorted(found, key=lambda d: (-d.ks, d.ticker))


def watch(registry: ForecastRegistry, reference: np.ndarray | None, metrics=None, today=None) -> dict:
    """One drift check (each validation run makes one): per-ticker results, and gauges without ticker labels."""
    if reference is None:
        return {"checked": 0, "drifting": 0, "tickers": [],
                "problem": "the champion has no training returns in the model store (flask models add --csv)"}
    results = drift_by_ticker(registry, reference, today)
    drifting = sum(d.drifting for d in results)
    if metrics is not None:
        metrics.models.publish_drift(max((d.ks for d in results), default=0.0),
                                     max((d.volatility_ratio for d in results), default=0.0), len(results), drifting)
    return {"checked": len(results), "drifting": drifting, "tickers": [d.as_dict() for d in results]}
