"""Explanations for people: why a forecast still waits, and which ticker an unmatched upload probably meant."""
from __future__ import annotations

import datetime as dt
import difflib
from collections import defaultdict

from sqlalchemy import select

from app.monitoring.registry import ForecastRegistry, as_date
from app.monitoring.storage import forecasts
from app.monitoring.tickers import UNKNOWN_TICKER
from app.monitoring.validation import latest_close_date

MAX_SUGGESTIONS = 3


def pending_reasons(registry: ForecastRegistry, rows: list[dict], today: dt.date) -> None:
    """Add `reason` to each pending row of the recent-forecasts list (other rows are left alone)."""
    waiting = defaultdict(list)
    for row in rows:
        if row["status"] != "pending":
            continue
        target = as_date(row["target_date"])
        if row["ticker"] == UNKNOWN_TICKER:
            row["reason"] = "no ticker: it cannot be compared with any stock's close"
        elif target >= today:
            row["reason"] = "target date in the future"
        else:
            session = latest_close_date(row["ticker"], target)
            row["close_date"] = session
            if session >= today:
                row["reason"] = f"waits for the close of {session.isoformat()}, the next trading day"
            else:
                waiting[row["ticker"]].append(row)
    for ticker, group in waiting.items():
        first = min(as_date(r["target_date"]) for r in group)
        known = registry.actual_closes(ticker, first, max(r["close_date"] for r in group)).index
        for row in group:
            has_close = any(as_date(row["target_date"]) <= day.date() <= row["close_date"] for day in known)
            row["reason"] = ("close known: the next validation will compare it" if has_close
                             else f"no close known yet for {row['close_date'].isoformat()}")
    for row in rows:
        row.pop("close_date", None)


def _forecast_tickers(registry: ForecastRegistry) -> list[str]:
    with registry.engine.connect() as conn:
        return [t for (t,) in conn.execute(select(forecasts.c.ticker).distinct()) if t != UNKNOWN_TICKER]


def unmatched_actuals_warning(registry: ForecastRegistry, ticker: str) -> str | None:
    """A warning when no forecast is registered for `ticker`, naming the tickers it was probably meant for."""
    known = _forecast_tickers(registry)
    if ticker in known:
        return None

    def bare(symbol: str) -> str:
        return symbol.lstrip("^").split(".")[0]

    alike = [t for t in known if bare(t) == bare(ticker)]
    alike += [t for t in difflib.get_close_matches(ticker, known, n=MAX_SUGGESTIONS, cutoff=0.75) if t not in alike]
    message = f"no forecast for {ticker}, so these closes validate nothing yet"
    if alike:
        message += f"; there are forecasts for {', '.join(alike[:MAX_SUGGESTIONS])}"
    return message
