"""Trading sessions after a date: Monday to Friday here, with no exchange holidays.

The signature is the one an exchange-calendar version of this module keeps, so callers do not change when
holidays become known.
"""
from __future__ import annotations

import datetime as dt

import numpy as np

CALENDAR_NAME = "weekdays"


def next_sessions(ticker: str | None, after: dt.date, n: int) -> tuple[list[dt.date], str]:
    """The n trading sessions strictly after `after` on the ticker's exchange, and the calendar's name."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    first = np.busday_offset(np.datetime64(after, "D") + 1, 0, roll="forward")
    days = np.busday_offset(first, np.arange(n))
    return [day.astype(dt.date) for day in days], CALENDAR_NAME
