"""A forecast read back from the registry by its request id: what the forecast page shows on reload."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from app.monitoring.registry import ForecastRegistry, as_date
from app.monitoring.storage import forecasts

c = forecasts.c
RECENT_CLOSES = 30  # closes of an upload kept as realised prices, also the history its page draws


def request_id_holding(registry: ForecastRegistry, ticker: str, model_version: str, made_at,
                       last_target, predicted: float) -> str | None:
    """The request id under which this forecast's last day is stored.

    The registry stores each forecast once: a repeated request adds no rows and keeps the first request's id.
    """
    stmt = (select(c.request_id, c.predicted)
            .where(c.ticker == ticker, c.model_version == model_version, c.made_at == as_date(made_at),
                   c.target_date == as_date(last_target))
            .order_by(c.id))
    with registry.engine.connect() as conn:
        rows = conn.execute(stmt).all()
    # Another upload with the same last date but other closes forecasts another value.
    return next((r.request_id for r in rows if abs(r.predicted - predicted) <= 1e-9 * abs(predicted)), None)


def stored_forecast(registry: ForecastRegistry, request_id: str, horizon: int | None = None) -> dict | None:
    """The forecast registered under request_id, days 1..horizon (default: that request's horizon), or None.

    Days an earlier identical request already stored belong to that request's id; they are found by the
    forecast's identity (same input, model and ticker).
    """
    with registry.engine.connect() as conn:
        own = conn.execute(select(c.input_hash, c.model_version, c.ticker, func.max(c.horizon_step).label("steps"),
                                  func.min(c.created_at).label("created_at"))
                           .where(c.request_id == request_id)
                           .group_by(c.input_hash, c.model_version, c.ticker)).first()
        if own is None:
            return None
        steps = horizon or own.steps
        rows = conn.execute(select(forecasts)
                            .where(c.input_hash == own.input_hash, c.model_version == own.model_version,
                                   c.ticker == own.ticker, c.horizon_step <= steps)
                            .order_by(c.horizon_step)).all()
    rows = [r._mapping for r in rows]
    if len(rows) < steps:
        return None
    first = rows[0]
    return {
        "ticker": first["ticker"], "last_date": as_date(first["made_at"]).isoformat(),
        "last_close": first["last_close"], "horizon": steps, "model_version": first["model_version"],
        "request_id": request_id, "created_at": own.created_at,
        "predictions": [{"date": as_date(r["target_date"]).isoformat(), "close": r["predicted"],
                         "lower_80": r["lower_80"], "upper_80": r["upper_80"], "lower_95": r["lower_95"],
                         "upper_95": r["upper_95"], "status": r["status"], "actual": r["actual"]} for r in rows],
    }


def recent_closes(registry: ForecastRegistry, ticker: str, until) -> tuple[list[str], list[float]]:
    """The last RECENT_CLOSES stored closes of ticker up to `until`, as (ISO dates, closes)."""
    until = as_date(until)
    series = registry.actual_closes(ticker, until - dt.timedelta(days=3 * RECENT_CLOSES), until)
    series = series.iloc[-RECENT_CLOSES:]
    return [d.date().isoformat() for d in series.index], [float(v) for v in series.to_numpy()]
