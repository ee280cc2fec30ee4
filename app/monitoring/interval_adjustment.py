"""The online part of the forecast intervals: widen or narrow them from how validated forecasts fared.

For each level and horizon bucket, over the validated forecasts of the served model version,
    factor = exp(rate * sum(miss - (1 - level))),
the closed form of quantile tracking (app.intervals.track_quantile): every close outside its interval widens
later intervals, every close inside narrows them a little, and the factor stops moving once the miss rate is
the nominal one. Because the forecasts it counts were made with the factor of their day, this is feedback
control (the integral term of conformal PID control), not a one-off recalibration.
"""
from __future__ import annotations

import logging
import math
import time

from sqlalchemy import func, select

from app.intervals import HORIZON_BUCKETS, LEVELS, TRACKING_RATE, horizon_bucket, level_key
from app.monitoring.storage import horizon_errors

log = logging.getLogger(__name__)

# The factor stays within these bounds: a run of misses from one crash widens bands at most twofold, and a
# quiet spell cannot shrink them below half the calibrated width.
MIN_FACTOR, MAX_FACTOR = 0.5, 2.0
CACHE_SECONDS = 60.0  # one registry read per worker a minute; validation runs hourly at most

h = horizon_errors.c
_cache: dict = {}


def bucket_factors(registry, model_version: str) -> dict:
    """{level key: {bucket label: factor}} from the validated forecasts of `model_version`."""
    # From the per-horizon roll-up (checked_80 = count(inside_80), inside_80 = sum(inside_80), ...), not a scan.
    stmt = (select(h.horizon_step, *(func.sum(h[f"checked_{level_key(lv)}"]) for lv in LEVELS),
                   *(func.sum(h[f"inside_{level_key(lv)}"]) for lv in LEVELS))
            .where(h.model_version == model_version).group_by(h.horizon_step))
    excess = {level_key(lv): {label: 0.0 for label, _, _ in HORIZON_BUCKETS} for lv in LEVELS}
    with registry.engine.connect() as conn:
        for row in conn.execute(stmt):
            step, counts, hits = row[0], row[1:1 + len(LEVELS)], row[1 + len(LEVELS):]
            for level, n, n_inside in zip(LEVELS, counts, hits, strict=True):
                misses = int(n or 0) - int(n_inside or 0)
                excess[level_key(level)][horizon_bucket(int(step))] += misses - (1.0 - level) * int(n or 0)
    return {key: {label: min(MAX_FACTOR, max(MIN_FACTOR, math.exp(TRACKING_RATE * value)))
                  for label, value in buckets.items()} for key, buckets in excess.items()}


def per_step(factors: dict, max_horizon: int) -> dict:
    """{level key: [factor for steps 1..max_horizon]}, the form Predictor.forecast takes."""
    return {key: [buckets[horizon_bucket(step)] for step in range(1, max_horizon + 1)]
            for key, buckets in factors.items()}


def current_adjustment(registry, model_version: str, max_horizon: int) -> dict | None:
    """The per-step factors for the served model, cached briefly; None without a registry or when it fails.

    A registry outage must not cost the user the forecast: the calibrated intervals are served unadjusted.
    """
    if registry is None:
        return None
    key = (id(registry), model_version, max_horizon)
    cached = _cache.get(key)
    if cached is not None and time.monotonic() - cached[0] < CACHE_SECONDS:
        return cached[1]
    try:
        adjustment = per_step(bucket_factors(registry, model_version), max_horizon)
    except Exception:  # noqa: BLE001 - reading the registry is best effort here
        log.warning("interval adjustment unavailable; serving calibrated intervals", exc_info=True)
        return None
    _cache[key] = (time.monotonic(), adjustment)
    return adjustment
