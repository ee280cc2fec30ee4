"""The performance report's baseline and interval parts: the drift forecast's errors, coverage of the 80% and
95% intervals per horizon bucket, and the alarm that compares the model with naive on the same forecasts."""
from __future__ import annotations

import datetime as dt

from app.intervals import HORIZON_BUCKETS, LEVELS, horizon_bucket, level_key
from app.monitoring.storage import forecasts
from app.thresholds import (
    COVERAGE_80_HIGH,
    COVERAGE_80_LOW,
    COVERAGE_ALERT_MIN_FORECASTS,
    QUALITY_WINDOW_DAYS,
    RMAE_ALARM,
    RMAE_ALARM_MIN_FORECASTS,
)

c = forecasts.c
KEYS = tuple(level_key(level) for level in LEVELS)


def combine(total) -> dict:
    """The drift baseline and coverage blocks from summed aggregates (`total(name)` sums one over groups)."""
    drift_n = int(total("drift_n"))
    drift = rmae_vs_drift = None
    if drift_n:
        drift_mae = total("drift_sum_abs") / drift_n
        drift = {"n": drift_n, "mae": drift_mae, "mape": total("drift_sum_ape") / drift_n}
        rmae_vs_drift = (total("sum_abs_with_drift") / drift_n) / drift_mae if drift_mae else None
    coverage = {}
    for key in KEYS:
        checked = int(total(f"checked_{key}"))
        coverage[key] = {"n": checked, "coverage": total(f"inside_{key}") / checked if checked else None}
    return {"drift": drift, "rmae_vs_drift": rmae_vs_drift, "coverage": coverage}


def empty() -> dict:
    return {"drift": None, "rmae_vs_drift": None, "coverage": {key: {"n": 0, "coverage": None} for key in KEYS}}


def flat(block: dict) -> dict:
    """Drift and coverage figures as flat keys, for tables and charts."""
    drift = block.get("drift") or {}
    coverage = block.get("coverage") or {}
    return {"drift_mae": drift.get("mae"), "drift_mape": drift.get("mape"),
            **{f"coverage_{key}": (coverage.get(key) or {}).get("coverage") for key in KEYS},
            **{f"checked_{key}": (coverage.get(key) or {}).get("n", 0) for key in KEYS}}


def coverage_by_bucket(horizons: list[dict]) -> dict:
    """Coverage of each level per horizon bucket (from the per-step rows) beside its nominal value."""
    buckets = {label: {key: [0, 0.0] for key in KEYS} for label, _, _ in HORIZON_BUCKETS}
    for row in horizons:
        for key in KEYS:
            n, share = row.get(f"checked_{key}") or 0, row.get(f"coverage_{key}")
            if n and share is not None:
                cell = buckets[horizon_bucket(int(row["horizon_step"]))][key]
                cell[0] += n
                cell[1] += share * n
    rows = [{"horizon_bucket": label,
             **{key: {"n": n, "coverage": inside / n if n else None} for key, (n, inside) in cells.items()}}
            for label, cells in buckets.items()]
    return {"nominal": {key: level for key, level in zip(KEYS, LEVELS, strict=True)},
            "band_80": [COVERAGE_80_LOW, COVERAGE_80_HIGH], "min_forecasts": COVERAGE_ALERT_MIN_FORECASTS,
            "by_bucket": rows}


def naive_alarm(recent: dict, today: dt.date) -> dict:
    """Whether the model did worse than naive on the forecasts validated in the quality window.

    status: "worse_than_naive" (rMAE above RMAE_ALARM over at least RMAE_ALARM_MIN_FORECASTS forecasts),
    "ok", or "too_few" (fewer forecasts with a naive error than the minimum: no verdict yet).
    """
    naive_n = (recent.get("naive") or {}).get("n", 0)
    rmae = recent.get("rmae")
    if naive_n < RMAE_ALARM_MIN_FORECASTS or rmae is None:
        status = "too_few"
    else:
        status = "worse_than_naive" if rmae > RMAE_ALARM else "ok"
    return {"status": status, "rmae": rmae, "n": naive_n, "threshold_rmae": RMAE_ALARM,
            "min_forecasts": RMAE_ALARM_MIN_FORECASTS, "window_days": QUALITY_WINDOW_DAYS,
            "from": (today - dt.timedelta(days=QUALITY_WINDOW_DAYS)).isoformat(),
            "to": (today - dt.timedelta(days=1)).isoformat(),
            "rmae_vs_drift": recent.get("rmae_vs_drift")}
