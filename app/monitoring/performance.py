"""The production performance report: errors of validated forecasts, naive baseline, history, degradation."""
from __future__ import annotations

import datetime as dt
import math

from sqlalchemy import select

from app.monitoring.measures import over_rollup
from app.monitoring.registry import ForecastRegistry, as_date
from app.monitoring.storage import daily_errors, forecasts, horizon_errors, ticker_counts
from app.monitoring.tickers import UNKNOWN_TICKER
from app.thresholds import DEGRADATION_WINDOW_DAYS, MODEL_MAPE

DEFAULT_THRESHOLD_MAPE = MODEL_MAPE.value  # percent; the ModelMapeAboveThreshold alert's boundary
DEFAULT_WINDOW_DAYS = DEGRADATION_WINDOW_DAYS
HISTORY_DAYS = 30
RECENT_LIMITS = (5, 50)
RECENT_STATUSES = ("all", "validated", "pending")
TREND_TOLERANCE_PP = 0.1  # MAPE changes smaller than this (percentage points) count as stable
MAX_TICKERS = 100

c = forecasts.c
daily, horizon, counts_c = daily_errors.c, horizon_errors.c, ticker_counts.c


def _combine(groups) -> dict:
    """The report's error block from one or more aggregate rows (mappings of app.monitoring.measures)."""
    groups = [g for g in groups if g["n"]]
    n = sum(int(g["n"]) for g in groups)
    if n == 0:
        return _no_errors_block()

    def total(key):
        return sum(float(g[key] or 0.0) for g in groups)

    def extreme(pick, key):
        values = [g[key] for g in groups if g[key] is not None]
        return pick(values) if values else None

    naive_n = sum(int(g["naive_n"]) for g in groups)
    naive = rmae = None
    if naive_n:
        naive_mae = total("naive_sum_abs") / naive_n
        naive = {"n": naive_n, "mae": naive_mae, "mape": total("naive_sum_ape") / naive_n,
                 "rmse": math.sqrt(total("naive_sum_sq") / naive_n),
                 "min_ape": extreme(min, "naive_min_ape"), "max_ape": extreme(max, "naive_max_ape")}
        rmae = (total("sum_abs_with_naive") / naive_n) / naive_mae if naive_mae else None
    return {
        "n": n, "mae": total("sum_abs") / n, "mape": total("sum_ape") / n, "rmse": math.sqrt(total("sum_sq") / n),
        "min_ape": extreme(min, "min_ape"), "max_ape": extreme(max, "max_ape"),
        "mean_predicted": total("sum_predicted") / n, "mean_actual": total("sum_actual") / n,
        "naive": naive, "rmae": rmae, "beats_naive": None if rmae is None else rmae < 1.0,
    }


def _groups(registry: ForecastRegistry, table, keys: list, where=()) -> list[dict]:
    """One aggregate row per distinct value of `keys` from a roll-up table (one row for all when keys is empty)."""
    stmt = select(*keys, *over_rollup(table.c)).where(*where)
    if keys:
        stmt = stmt.group_by(*keys).order_by(*keys)
    with registry.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(stmt)]


def _daily_groups(registry: ForecastRegistry, keys: list, ticker, since, until) -> list[dict]:
    """Aggregates of validated forecasts by target date range (and ticker), from the daily roll-up."""
    where = [] if ticker is None else [daily.ticker == ticker]
    if since is not None:
        where.append(daily.target_date >= as_date(since))
    if until is not None:
        where.append(daily.target_date <= as_date(until))
    return _groups(registry, daily_errors, keys, where)


def error_summary(registry: ForecastRegistry, ticker: str | None = None, since=None, until=None) -> dict:
    """MAE, MAPE, RMSE, min/max APE, mean predicted vs realised, and the naive errors, by target date range."""
    return _combine(_daily_groups(registry, [], ticker, since, until))


def daily_history(registry: ForecastRegistry, ticker: str | None, since, until) -> list[dict]:
    """Errors per target date (days with validated forecasts only), oldest first."""
    return [{"date": as_date(g["target_date"]).isoformat(), **_table_row(_combine([g]))}
            for g in _daily_groups(registry, [daily.target_date], ticker, since, until)]


def all_time_errors(registry: ForecastRegistry, ticker: str | None) -> tuple[dict, list[dict], dict]:
    """Overall errors, errors per horizon step and errors per ticker, from the per-ticker-and-horizon roll-up.

    Per horizon: a 30-day-ahead forecast is expected to miss by more than a 1-day one.
    """
    where = [] if ticker is None else [horizon.ticker == ticker]
    horizons = [{"horizon_step": int(g["horizon_step"]), **_table_row(_combine([g]))}
                for g in _groups(registry, horizon_errors, [horizon.horizon_step], where)]
    tickers = {g["ticker"]: _table_row(_combine([g]))
               for g in _groups(registry, horizon_errors, [horizon.ticker], where)}
    return _combine(_groups(registry, horizon_errors, [], where)), horizons, tickers


def per_ticker(registry: ForecastRegistry, errors_by_ticker: dict) -> list[dict]:
    """Counts and errors for each ticker (the MAX_TICKERS busiest), most forecasts first."""
    counts = (select(counts_c.ticker, counts_c.validated, counts_c.pending)
              .where(counts_c.validated + counts_c.pending > 0)
              .order_by((counts_c.validated + counts_c.pending).desc(), counts_c.ticker).limit(MAX_TICKERS))
    with registry.engine.connect() as conn:
        rows = conn.execute(counts).all()
    empty = _table_row(_no_errors_block())
    return [{"ticker": r.ticker, "validated": int(r.validated or 0), "pending": int(r.pending or 0),
             **{k: v for k, v in errors_by_ticker.get(r.ticker, empty).items() if k != "n"}}
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
    # id grows with registration time and is the primary key: newest first without sorting the table.
    if ticker is not None:
        stmt = stmt.where(c.ticker == ticker)
    stmt = stmt.order_by(c.id.desc()).limit(int(limit))
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
    overall, horizons, tickers = all_time_errors(registry, ticker)
    report = {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "today": today.isoformat(),
        "ticker": ticker,
        "validated": counts["validated"],
        "pending": counts["pending"],
        "metrics": overall,
        "degradation": degradation(registry, ticker, today, threshold, window_days),
        "history": daily_history(registry, ticker, today - dt.timedelta(days=HISTORY_DAYS), today),
        "by_horizon": horizons,
        "recent": {"status": status, "limit": limit,
                   "forecasts": recent_forecasts(registry, status, limit, ticker)},
    }
    if ticker is None:
        report["unknown_ticker_pending"] = registry.counts(UNKNOWN_TICKER)["pending"]
        report["per_ticker"] = per_ticker(registry, tickers)
    return report


def _window(start: dt.date, stop: dt.date, summary: dict) -> dict:
    """A degradation window [start, stop - 1 day] with its size and MAPE."""
    return {"from": start.isoformat(), "to": (stop - dt.timedelta(days=1)).isoformat(),
            "n": summary["n"], "mape": summary["mape"]}


def _no_errors_block() -> dict:
    """The error block of a group without validated forecasts: every figure None."""
    return {"n": 0, "mae": None, "mape": None, "rmse": None, "min_ape": None, "max_ape": None,
            "mean_predicted": None, "mean_actual": None, "naive": None, "rmae": None, "beats_naive": None}


def _table_row(block: dict) -> dict:
    """One flat row for tables and charts: an error block with its naive part as naive_mae/_mape/_rmse."""
    naive = block.get("naive") or {}
    flat = {k: v for k, v in block.items() if k not in ("naive", "mean_predicted", "mean_actual", "beats_naive")}
    flat.update(naive_mae=naive.get("mae"), naive_mape=naive.get("mape"), naive_rmse=naive.get("rmse"))
    return flat


def _jsonable(row: dict) -> dict:
    """Dates and datetimes as ISO strings."""
    return {k: (v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else v) for k, v in row.items()}
