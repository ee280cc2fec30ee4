"""The production performance report: errors of validated forecasts, naive baseline, history, degradation.

Every figure comes from the roll-ups (app/monitoring/rollups.py: daily_errors per target date, ticker and
version; horizon_errors per ticker, horizon step and version; daily_horizon_errors per target date, ticker,
horizon step and version; ticker_counts), never from a scan of the forecasts: only the list of recent forecasts
reads raw rows. The roll-ups outlive pruned forecasts, so every figure covers the days pruned too.
"""
from __future__ import annotations

import datetime as dt
import math

from sqlalchemy import func, select

from app.monitoring import interval_report
from app.monitoring.measures import over_rollup
from app.monitoring.registry import STATUSES, ForecastRegistry, as_date
from app.monitoring.storage import daily_errors, daily_horizon_errors, forecasts, horizon_errors, ticker_counts
from app.monitoring.tickers import UNKNOWN_TICKER
from app.thresholds import MAPE_QUALITY_BAND, QUALITY_WINDOW_DAYS

DEFAULT_THRESHOLD_MAPE = MAPE_QUALITY_BAND  # percent; the quality band users know (shown, never paging)
DEFAULT_WINDOW_DAYS = QUALITY_WINDOW_DAYS
HISTORY_DAYS = 30
RECENT_LIMITS = (5, 50)
RECENT_STATUSES = ("all", "validated", "pending")
TREND_TOLERANCE_PP = 0.1  # MAPE changes smaller than this (percentage points) count as stable
MAX_TICKERS = 100
SHADOW_ROLE = "challenger"

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
        "min_abs_error": extreme(min, "min_abs_error"), "max_abs_error": extreme(max, "max_abs_error"),
        "mean_predicted": total("sum_predicted") / n, "mean_actual": total("sum_actual") / n,
        "naive": naive, "rmae": rmae, "beats_naive": None if rmae is None else rmae < 1.0,
        **(intervals := interval_report.combine(total)),
        "coverage_80": intervals["coverage"]["80"]["coverage"],  # the share the promotion gate compares
    }


def _groups(registry: ForecastRegistry, table, keys: list[str], ticker=None, since=None, until=None,
            model_version=None) -> list[dict]:
    """One aggregate row per distinct value of `keys` (all in one group when keys is empty), merged from the
    roll-up `table`."""
    cols = table.c
    columns = [cols[k] for k in keys]
    stmt = select(*columns, *over_rollup(cols)).where(*_filters(ticker, since, until, model_version, cols))
    if keys:
        stmt = stmt.group_by(*columns).order_by(*columns)
    with registry.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(stmt)]


def error_summary(registry: ForecastRegistry, ticker: str | None = None, since=None, until=None,
                  model_version: str | None = None) -> dict:
    """MAE, MAPE, RMSE, min/max APE, mean predicted vs realised, and the naive errors, by target date range.

    Of the answers users got, or with `model_version` of that version's forecasts (answered or shadowed).
    """
    return _combine(_groups(registry, daily_errors, [], ticker, since, until, model_version))


def daily_history(registry: ForecastRegistry, ticker: str | None, since, until,
                  model_version: str | None = None) -> list[dict]:
    """Errors per target date (days with validated forecasts only), oldest first."""
    return [{"date": as_date(g["target_date"]).isoformat(), **_table_row(_combine([g]))}
            for g in _groups(registry, daily_errors, ["target_date"], ticker, since, until, model_version)]


def _split(groups: list[dict], key: str) -> dict:
    out = {}
    for g in groups:
        out.setdefault(g[key], []).append(g)
    return out


def all_time_errors(registry: ForecastRegistry, ticker: str | None, since=None, until=None,
                    model_version: str | None = None) -> tuple[dict, list[dict], dict]:
    """Overall errors, errors per horizon step and errors per ticker (all target dates, or those from since to
    until).

    All target dates: one read of the per-ticker-and-horizon roll-up. A period: per ticker (and overall) from the
    daily roll-up, per horizon from the daily per-horizon one (about 30 times larger, so read only for this).
    Per horizon: a 30-day-ahead forecast is expected to miss by more than a 1-day one.
    """
    if since is None and until is None:
        groups = _groups(registry, horizon_errors, ["ticker", "horizon_step"], ticker, None, None, model_version)
        by_step = _split(groups, "horizon_step")
    else:
        groups = _groups(registry, daily_errors, ["ticker"], ticker, since, until, model_version)
        by_step = {g["horizon_step"]: [g] for g in
                   _groups(registry, daily_horizon_errors, ["horizon_step"], ticker, since, until, model_version)}
    horizons = [{"horizon_step": int(step), **_table_row(_combine(rows))} for step, rows in sorted(by_step.items())]
    tickers = {name: _table_row(_combine(rows)) for name, rows in _split(groups, "ticker").items()}
    return _combine(groups), horizons, tickers


def per_ticker(registry: ForecastRegistry, errors_by_ticker: dict, model_version: str | None = None) -> list[dict]:
    """Counts and errors for each ticker (the MAX_TICKERS busiest), most forecasts first."""
    total = func.sum(counts_c.validated + counts_c.pending)
    counts = (select(counts_c.ticker, func.sum(counts_c.validated).label("validated"),
                     func.sum(counts_c.pending).label("pending"))
              .where(*_filters(None, None, None, model_version, counts_c)).group_by(counts_c.ticker)
              .having(total > 0).order_by(total.desc(), counts_c.ticker).limit(MAX_TICKERS))
    with registry.engine.connect() as conn:
        rows = conn.execute(counts).all()
    empty = _table_row(_no_errors_block())
    return [{"ticker": r.ticker, "validated": int(r.validated or 0), "pending": int(r.pending or 0),
             **{k: v for k, v in errors_by_ticker.get(r.ticker, empty).items() if k != "n"}}
            for r in rows]


def recent_forecasts(registry: ForecastRegistry, status: str = "all", limit: int = 20,
                     ticker: str | None = None, model_version: str | None = None) -> list[dict]:
    """The latest registered forecasts, newest first, optionally only validated or pending ones."""
    if status not in RECENT_STATUSES:
        raise ValueError(f"status must be one of {RECENT_STATUSES}")
    stmt = select(c.id, c.ticker, c.made_at, c.target_date, c.horizon_step, c.predicted, c.lower_95,
                  c.upper_95, c.last_close, c.actual, c.actual_date, c.abs_error, c.ape, c.naive_ape,
                  c.status, c.model_version, c.role, c.request_id, c.created_at, c.validated_at)
    if status != "all":
        stmt = stmt.where(c.status == status)
    # id grows with registration time and is the primary key: newest first without sorting the table.
    stmt = stmt.where(*_filters(ticker, None, None, model_version)).order_by(c.id.desc()).limit(int(limit))
    with registry.engine.connect() as conn:
        return [_jsonable(dict(r._mapping)) for r in conn.execute(stmt)]


def degradation(registry: ForecastRegistry, ticker: str | None, today: dt.date,
                threshold: float = DEFAULT_THRESHOLD_MAPE, window_days: int = DEFAULT_WINDOW_DAYS,
                model_version: str | None = None) -> dict:
    """Degraded when the MAPE of forecasts targeting the last `window_days` days exceeds `threshold` percent.

    The trend compares that window with the one before it (same length).
    """
    recent_from = today - dt.timedelta(days=window_days)
    previous_from = recent_from - dt.timedelta(days=window_days)
    recent = error_summary(registry, ticker, recent_from, today - dt.timedelta(days=1), model_version)
    previous = error_summary(registry, ticker, previous_from, recent_from - dt.timedelta(days=1), model_version)
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
                       window_days: int = DEFAULT_WINDOW_DAYS, period=None, model_version: str | None = None) -> dict:
    """Everything GET /monitoring/performance and the monitoring page show.

    Without `period`: errors over all target dates, history of the last HISTORY_DAYS days, degradation over the
    last window_days days before today. With period = (first, last) target dates: errors and history over the
    period, degradation over its last window_days days, so that every figure speaks of the same period.
    Without `model_version`: the answers users got (challengers' shadow forecasts left out); with it, that
    version's forecasts, answered or shadowed.
    """
    today = dt.date.today() if today is None else as_date(today)
    counts = forecast_counts(registry, ticker, model_version)
    if period is None:
        since, until, history_from = None, None, today - dt.timedelta(days=HISTORY_DAYS)
        window_end = today
    else:
        since, until = (as_date(day) for day in period)
        history_from, window_end = since, until + dt.timedelta(days=1)
    overall, horizons, tickers = all_time_errors(registry, ticker, since, until, model_version)
    report = {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "today": today.isoformat(),
        "ticker": ticker,
        "period": None if period is None else {"from": since.isoformat(), "to": until.isoformat()},
        "model_version": model_version,
        "validated": counts["validated"],
        "pending": counts["pending"],
        "metrics": overall,
        "degradation": degradation(registry, ticker, window_end, threshold, window_days, model_version),
        "history": daily_history(registry, ticker, history_from, until or today, model_version),
        "by_horizon": horizons,
        "coverage": interval_report.coverage_by_bucket(horizons),
        # The same window as the degradation banner: the last days before today, or of the period.
        "naive_alarm": interval_report.naive_alarm(error_summary(
            registry, ticker, window_end - dt.timedelta(days=QUALITY_WINDOW_DAYS), window_end - dt.timedelta(days=1),
            model_version), window_end),
        "recent": {"status": status, "limit": limit,
                   "forecasts": recent_forecasts(registry, status, limit, ticker, model_version)},
    }
    if ticker is None:
        report["unknown_ticker_pending"] = forecast_counts(registry, UNKNOWN_TICKER, model_version)["pending"]
        report["per_ticker"] = per_ticker(registry, tickers, model_version)
    return report


def _window(start: dt.date, stop: dt.date, summary: dict) -> dict:
    """A degradation window [start, stop - 1 day] with its size and MAPE."""
    return {"from": start.isoformat(), "to": (stop - dt.timedelta(days=1)).isoformat(),
            "n": summary["n"], "mape": summary["mape"]}


def forecast_counts(registry: ForecastRegistry, ticker: str | None = None,
                    model_version: str | None = None) -> dict[str, int]:
    """Forecasts per status: the answers users got, or one version's forecasts (as the report counts them)."""
    stmt = (select(func.sum(counts_c.pending).label("pending"), func.sum(counts_c.validated).label("validated"))
            .where(*_filters(ticker, None, None, model_version, counts_c)))
    with registry.engine.connect() as conn:
        found = conn.execute(stmt).one()._mapping
    return {status: int(found[status] or 0) for status in STATUSES}


def _filters(ticker, since, until, model_version=None, cols=c) -> list:
    """Conditions on forecasts or a roll-up (columns `cols`; dates only where it has target_date)."""
    # One version's forecasts, or the answers users got: a shadow forecast was never shown to anyone.
    where = [cols.model_version == model_version] if model_version is not None else [cols.role != SHADOW_ROLE]
    if ticker is not None:
        where.append(cols.ticker == ticker)
    if since is not None:
        where.append(cols.target_date >= as_date(since))
    if until is not None:
        where.append(cols.target_date <= as_date(until))
    return where


def _no_errors_block() -> dict:
    """The error block of a group without validated forecasts: every figure None."""
    return {"n": 0, "mae": None, "mape": None, "rmse": None, "min_ape": None, "max_ape": None,
            "mean_predicted": None, "mean_actual": None, "naive": None, "rmae": None, "beats_naive": None,
            "min_abs_error": None, "max_abs_error": None, "coverage_80": None, **interval_report.empty()}


def _table_row(block: dict) -> dict:
    """One flat row for tables and charts: an error block with its naive part as naive_mae/_mape/_rmse."""
    naive = block.get("naive") or {}
    flat = {k: v for k, v in block.items()
            if k not in ("naive", "mean_predicted", "mean_actual", "beats_naive", "drift", "coverage")}
    flat.update(naive_mae=naive.get("mae"), naive_mape=naive.get("mape"), naive_rmse=naive.get("rmse"),
                **interval_report.flat(block))
    return flat


def _jsonable(row: dict) -> dict:
    """Dates and datetimes as ISO strings."""
    return {k: (v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else v) for k, v in row.items()}
