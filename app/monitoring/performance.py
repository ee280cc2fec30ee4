"""The production performance report: errors of validated forecasts, naive baseline, history, degradation."""
from __future__ import annotations

import datetime as dt
import math

from sqlalchemy import case, func, select

from app.monitoring.registry import ForecastRegistry, as_date
from app.monitoring.storage import forecasts
from app.monitoring.tickers import UNKNOWN_TICKER

DEFAULT_THRESHOLD_MAPE = 5.0  # percent; seed 000's degradation threshold, also the Prometheus alert's
DEFAULT_WINDOW_DAYS = 7
HISTORY_DAYS = 30
RECENT_LIMITS = (5, 50)
RECENT_STATUSES = ("all", "validated", "pending")
TREND_TOLERANCE_PP = 0.1  # MAPE changes smaller than this (percentage points) count as stable
MAX_TICKERS = 100

c = forecasts.c
_VALIDATED = c.status == "validated"
_HAS_NAIVE = c.naive_abs_error.isnot(None)


def _error_columns():
    """Aggregates over validated rows: the model's errors, and the naive forecast's over the same rows."""
    return [
        func.count().label("n"),
        func.avg(c.abs_error).label("mae"),
        func.avg(c.ape).label("mape"),
        func.avg(c.abs_error * c.abs_error).label("mse"),
        func.min(c.ape).label("min_ape"),
        func.max(c.ape).label("max_ape"),
        func.avg(c.predicted).label("mean_predicted"),
        func.avg(c.actual).label("mean_actual"),
        func.count(c.naive_abs_error).label("naive_n"),
        func.avg(c.naive_abs_error).label("naive_mae"),
        func.avg(c.naive_ape).label("naive_mape"),
        func.avg(c.naive_abs_error * c.naive_abs_error).label("naive_mse"),
        func.min(c.naive_ape).label("naive_min_ape"),
        func.max(c.naive_ape).label("naive_max_ape"),
        # The model's MAE restricted to rows that have a naive forecast, so rMAE compares like with like.
        func.avg(case((_HAS_NAIVE, c.abs_error))).label("mae_with_naive"),
    ]


def _shape(row) -> dict:
    """Turn one aggregate row into the report's error block."""
    m = row._mapping
    n = int(m["n"] or 0)
    if n == 0:
        return _shape_empty()
    naive = None
    rmae = None
    if m["naive_n"]:
        naive = {"n": int(m["naive_n"]), "mae": m["naive_mae"], "mape": m["naive_mape"],
                 "rmse": math.sqrt(m["naive_mse"]), "min_ape": m["naive_min_ape"], "max_ape": m["naive_max_ape"]}
        rmae = m["mae_with_naive"] / m["naive_mae"] if m["naive_mae"] else None
    return {
        "n": n, "mae": m["mae"], "mape": m["mape"], "rmse": math.sqrt(m["mse"]),
        "min_ape": m["min_ape"], "max_ape": m["max_ape"],
        "mean_predicted": m["mean_predicted"], "mean_actual": m["mean_actual"],
        "naive": naive, "rmae": rmae, "beats_naive": None if rmae is None else rmae < 1.0,
    }


def error_summary(registry: ForecastRegistry, ticker: str | None = None, since=None, until=None) -> dict:
    """MAE, MAPE, RMSE, min/max APE, mean predicted vs realised, and the naive errors, by target date range."""
    stmt = select(*_error_columns()).where(_VALIDATED, *_filters(ticker, since, until))
    with registry.engine.connect() as conn:
        return _shape(conn.execute(stmt).one())


def daily_history(registry: ForecastRegistry, ticker: str | None, since, until) -> list[dict]:
    """Errors per target date (days with validated forecasts only), oldest first."""
    stmt = (select(c.target_date, *_error_columns()).where(_VALIDATED, *_filters(ticker, since, until))
            .group_by(c.target_date).order_by(c.target_date))
    with registry.engine.connect() as conn:
        return [{"date": as_date(r.target_date).isoformat(), **_flat(_shape(r))} for r in conn.execute(stmt)]


def by_horizon(registry: ForecastRegistry, ticker: str | None) -> list[dict]:
    """Errors per horizon step: a 30-day-ahead forecast is expected to miss by more than a 1-day one."""
    stmt = (select(c.horizon_step, *_error_columns()).where(_VALIDATED, *_filters(ticker, None, None))
            .group_by(c.horizon_step).order_by(c.horizon_step))
    with registry.engine.connect() as conn:
        return [{"horizon_step": int(r.horizon_step), **_flat(_shape(r))} for r in conn.execute(stmt)]


def per_ticker(registry: ForecastRegistry) -> list[dict]:
    """Counts and errors for each ticker (the MAX_TICKERS busiest), most validated first."""
    counts = (select(c.ticker, func.sum(case((_VALIDATED, 1), else_=0)).label("validated"),
                     func.sum(case((c.status == "pending", 1), else_=0)).label("pending"))
              .group_by(c.ticker).order_by(func.count().desc(), c.ticker).limit(MAX_TICKERS))
    errors = select(c.ticker, *_error_columns()).where(_VALIDATED).group_by(c.ticker)
    with registry.engine.connect() as conn:
        rows = conn.execute(counts).all()
        by_name = {r.ticker: _flat(_shape(r)) for r in conn.execute(errors)}
    return [{"ticker": r.ticker, "validated": int(r.validated or 0), "pending": int(r.pending or 0),
             **{k: v for k, v in by_name.get(r.ticker, _flat(_shape_empty())).items() if k != "n"}}
            for r in rows]


def recent_forecasts(registry: ForecastRegistry, status: str = "all", limit: int = 20,
                     ticker: str | None = None) -> list[dict]:
    """The latest registered forecasts, newest first, optionally only validated or pending ones."""
    if status not in RECENT_STATUSES:
        raise ValueError(f"status must be one of {RECENT_STATUSES}")
    stmt = select(c.id, c.ticker, c.made_at, c.target_date, c.horizon_step, c.predicted, c.lower_95,
                  c.upper_95, c.last_close, c.actual, c.actual_date, c.abs_error, c.ape, c.naive_ape,
                  c.status, c.model_version, c.request_id, c.created_at, c.validated_at)
    if status != "all":
        stmt = stmt.where(c.status == status)
    stmt = stmt.where(*_filters(ticker, None, None)).order_by(c.created_at.desc(), c.id.desc()).limit(int(limit))
    with registry.engine.connect() as conn:
        return [_jsonable(dict(r._mapping)) for r in conn.execute(stmt)]


def degradation(registry: ForecastRegistry, ticker: str | None, today: dt.date,
                threshold: float = DEFAULT_THRESHOLD_MAPE, window_days: int = DEFAULT_WINDOW_DAYS) -> dict:
    """Degraded when the MAPE of forecasts targeting the last `window_days` days exceeds `threshold` percent.

    The trend compares that window with the one before it (same length).
    """
    recent_from = today - dt.timedelta(days=window_days)
    previous_from = recent_from - dt.timedelta(days=window_days)
    recent = error_summary(registry, ticker, recent_from, today - dt.timedelta(days=1))
    previous = error_summary(registry, ticker, previous_from, recent_from - dt.timedelta(days=1))
    change = None
    trend = "unknown"
    if recent["n"] and previous["n"]:
        change = recent["mape"] - previous["mape"]
        trend = "stable" if abs(change) < TREND_TOLERANCE_PP else ("worsening" if change > 0 else "improving")
    degraded = bool(recent["n"]) and recent["mape"] > threshold
    return {
        "status": "no_data" if not recent["n"] else ("degraded" if degraded else "ok"),
        "degraded": degraded, "threshold_mape": threshold, "window_days": window_days,
        "recent": _window(recent_from, today, recent),
        "previous": _window(previous_from, recent_from, previous),
        "trend": trend, "mape_change_pp": change,
    }


def performance_report(registry: ForecastRegistry, *, status: str = "all", limit: int = 20,
                       ticker: str | None = None, today=None, threshold: float = DEFAULT_THRESHOLD_MAPE,
                       window_days: int = DEFAULT_WINDOW_DAYS) -> dict:
    """Everything GET /monitoring/performance and the monitoring page show."""
    today = dt.date.today() if today is None else as_date(today)
    counts = registry.counts(ticker)
    report = {
        "generated_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "today": today.isoformat(),
        "ticker": ticker,
        "validated": counts["validated"],
        "pending": counts["pending"],
        "metrics": error_summary(registry, ticker),
        "degradation": degradation(registry, ticker, today, threshold, window_days),
        "history": daily_history(registry, ticker, today - dt.timedelta(days=HISTORY_DAYS), today),
        "by_horizon": by_horizon(registry, ticker),
        "recent": {"status": status, "limit": limit,
                   "forecasts": recent_forecasts(registry, status, limit, ticker)},
    }
    if ticker is None:
        report["unknown_ticker_pending"] = registry.counts(UNKNOWN_TICKER)["pending"]
        report["per_ticker"] = per_ticker(registry)
    return report


def _window(start: dt.date, stop: dt.date, summary: dict) -> dict:
    """A degradation window [start, stop - 1 day] with its size and MAPE."""
    return {"from": start.isoformat(), "to": (stop - dt.timedelta(days=1)).isoformat(),
            "n": summary["n"], "mape": summary["mape"]}


def _filters(ticker, since, until) -> list:
    where = []
    if ticker is not None:
        where.append(c.ticker == ticker)
    if since is not None:
        where.append(c.target_date >= as_date(since))
    if until is not None:
        where.append(c.target_date <= as_date(until))
    return where


def _shape_empty() -> dict:
    return {"n": 0, "mae": None, "mape": None, "rmse": None, "min_ape": None, "max_ape": None,
            "mean_predicted": None, "mean_actual": None, "naive": None, "rmae": None, "beats_naive": None}


def _flat(block: dict) -> dict:
    """An error block with the naive part reduced to its MAE/MAPE (for tables and charts)."""
    naive = block.get("naive") or {}
    flat = {k: v for k, v in block.items() if k not in ("naive", "mean_predicted", "mean_actual", "beats_naive")}
    flat.update(naive_mae=naive.get("mae"), naive_mape=naive.get("mape"), naive_rmse=naive.get("rmse"))
    return flat


def _jsonable(row: dict) -> dict:
    """Dates and datetimes as ISO strings."""
    return {k: (v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else v) for k, v in row.items()}
