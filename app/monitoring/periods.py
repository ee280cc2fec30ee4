"""The periods the monitoring page and report can cover, by default the one that has validated forecasts."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from app.errors import InvalidInput
from app.monitoring.registry import ForecastRegistry, as_date
from app.monitoring.storage import daily_errors

DATA_PERIOD = "data"
# Period name -> days up to yesterday; "data" runs from the first to the last validated target date.
PERIOD_DAYS = {"30": 30, "90": 90, "365": 365}
PERIODS = (DATA_PERIOD, *PERIOD_DAYS)
PERIOD_LABELS = {DATA_PERIOD: "Days with validated forecasts", "30": "Last 30 days", "90": "Last 90 days",
                 "365": "Last 365 days"}


def validated_range(registry: ForecastRegistry, ticker: str | None = None) -> tuple[dt.date, dt.date] | None:
    """The first and last target dates of validated forecasts, or None when none is validated."""
    c = daily_errors.c  # the daily roll-up has a row for each day with validated forecasts, pruned or not
    stmt = select(func.min(c.target_date), func.max(c.target_date))
    if ticker is not None:
        stmt = stmt.where(c.ticker == ticker)
    with registry.engine.connect() as conn:
        first, last = conn.execute(stmt).one()
    return None if first is None else (as_date(first), as_date(last))


def parse_period(raw: str | None) -> str:
    """The `period` parameter: one of PERIODS (absent means "data")."""
    name = DATA_PERIOD if raw is None else raw.strip().lower()
    if name not in PERIODS:
        raise InvalidInput("bad_period", f"period must be one of {', '.join(PERIODS)} (days with validated "
                                         f"forecasts, or the last 30, 90 or 365 days), got {raw[:20]!r}")
    return name


def period_dates(registry: ForecastRegistry, name: str, ticker: str | None,
                 today: dt.date) -> tuple[dt.date, dt.date]:
    """(first, last) target dates of the named period; "data" without validated forecasts is the last 30 days."""
    yesterday = today - dt.timedelta(days=1)
    if name == DATA_PERIOD:
        found = validated_range(registry, ticker)
        if found is not None:
            return found
        name = "30"
    return yesterday - dt.timedelta(days=PERIOD_DAYS[name] - 1), yesterday
