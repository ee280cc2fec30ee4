"""Trading days: which exchange calendar a ticker follows, and its sessions (exchange_calendars).

Forecast dates, the registry's horizon steps and validation all ask this module, so they agree on which days
the market is open. A ticker whose exchange is not known (or a date outside the calendar's range) falls back
to weekdays, and the answer names the calendar it used.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
import warnings
from functools import cache, lru_cache

import pandas as pd

log = logging.getLogger(__name__)

WEEKDAYS = "weekdays"
DEFAULT_CALENDAR = "XNYS"  # a symbol without an exchange suffix, an index like ^GSPC, or no ticker at all
CALENDAR_START = dt.date(1970, 1, 1)  # sessions are known from here (or the exchange's own first day)
CALENDAR_YEARS_AHEAD = 2  # ... until this many years after today

# Yahoo Finance symbol suffix -> ISO 10383 code of the exchange's calendar.
SUFFIX_CALENDARS = {
    "SA": "BVMF", "L": "XLON", "IL": "XLON", "TO": "XTSE", "V": "XTSX", "DE": "XETR", "F": "XFRA", "PA": "XPAR",
    "AS": "XAMS", "BR": "XBRU", "LS": "XLIS", "MI": "XMIL", "MC": "XMAD", "SW": "XSWX", "VI": "XWBO",
    "ST": "XSTO", "OL": "XOSL", "CO": "XCSE", "HE": "XHEL", "IR": "XDUB", "IC": "XICE", "WA": "XWAR",
    "PR": "XPRA", "BD": "XBUD", "IS": "XIST", "HK": "XHKG", "T": "XTKS", "AX": "XASX",
    "NZ": "XNZE", "KS": "XKRX", "SS": "XSHG", "SZ": "XSHG", "BO": "XBOM", "NS": "XBOM", "TW": "XTAI",
    "SI": "XSES", "BK": "XBKK", "KL": "XKLS", "JK": "XIDX", "PS": "XPHS", "JO": "XJSE",
    "MX": "XMEX", "SN": "XSGO", "BA": "XBUE", "LM": "XLIM", "CL": "XBOG", "RG": "XRIS", "TL": "XTAL",
    "VS": "XLIT",
}
# Indices follow their exchange; an index not listed here follows XNYS, like ^GSPC and ^IXIC.
INDEX_CALENDARS = {
    "^FTSE": "XLON", "^GDAXI": "XETR", "^FCHI": "XPAR", "^N225": "XTKS", "^HSI": "XHKG", "^BVSP": "BVMF",
    "^GSPTSE": "XTSE", "^AXJO": "XASX", "^STOXX50E": "XETR", "^AEX": "XAMS", "^IBEX": "XMAD", "^SSMI": "XSWX",
    "^KS11": "XKRX", "^BSESN": "XBOM", "^NSEI": "XBOM", "^TWII": "XTAI", "^MXX": "XMEX",
}
_lock = threading.Lock()


def calendar_name_for(ticker: str | None) -> str:
    """The calendar code a ticker follows ("XNYS", "BVMF", ...), or "weekdays" for an unknown suffix."""
    symbol = (ticker or "").strip().upper()
    if symbol.startswith("^"):
        return INDEX_CALENDARS.get(symbol, DEFAULT_CALENDAR)
    if "=" in symbol:  # currencies and futures (EURUSD=X, CL=F) trade around the clock on weekdays
        return WEEKDAYS
    base, dot, suffix = symbol.rpartition(".")
    if not dot or not base:
        return DEFAULT_CALENDAR
    return SUFFIX_CALENDARS.get(suffix, WEEKDAYS)


@cache
def _calendar(name: str):
    """The exchange_calendars calendar `name`, built once per process (imported on first use: ~0.5 s), or
    None when the library cannot build it (then dates are weekdays)."""
    import exchange_calendars

    end = pd.Timestamp.today().normalize() + pd.DateOffset(years=CALENDAR_YEARS_AHEAD)
    # Widest range first; some exchanges start later than CALENDAR_START or record holidays for fewer years.
    attempts = ({"start": pd.Timestamp(CALENDAR_START), "end": end}, {"end": end}, {})
    with _lock, warnings.catch_warnings():  # building a calendar is not documented as thread-safe
        # exchange_calendars 4.13 reads Series.values of tz-aware columns, which pandas 3.1 deprecates (its
        # concern, not a user's): keep the warning out of logs and test output.
        warnings.filterwarnings("ignore", message="Series.values returning an ndarray")
        warnings.filterwarnings("ignore", message="DatetimeIndex.weekday is deprecated")  # the same, for XHKG
        for bounds in attempts:
            try:
                return exchange_calendars.get_calendar(name, **bounds)
            except (ValueError, NotImplementedError) as exc:
                reason = exc
    log.warning("exchange calendar %s unavailable (%s); its dates are weekdays", name, str(reason)[:200])
    return None


def warm_in_background() -> threading.Thread:
    """Build the default calendar in a daemon thread, so a worker's first forecast does not wait ~0.5 s for it
    while start-up and readiness do not either."""
    thread = threading.Thread(target=_calendar, args=(DEFAULT_CALENDAR,), name="calendar-warm-up", daemon=True)
    thread.start()
    return thread


def _calendar_covering(ticker: str | None, first: dt.date, last: dt.date):
    """(calendar or None, name): the ticker's calendar when it knows every session from first to last."""
    return _calendar_named(calendar_name_for(ticker), first, last)


def _calendar_named(name: str, first: dt.date, last: dt.date):
    """(calendar or None, name): the calendar `name` when it knows every session from first to last."""
    calendar = None if name == WEEKDAYS else _calendar(name)
    if calendar is None:
        return None, WEEKDAYS
    if calendar.first_session.date() <= first and last <= calendar.last_session.date():
        return calendar, name
    log.info("%s knows no sessions from %s to %s; using weekdays", name, first, last)
    return None, WEEKDAYS


def next_sessions(ticker: str | None, after: dt.date, n: int) -> tuple[list[dt.date], str]:
    """The n trading sessions strictly after `after` on the ticker's exchange, and the calendar's name
    ("XNYS", ... or "weekdays" when the suffix is unknown)."""
    sessions, name = _next_sessions(calendar_name_for(ticker), after, n)
    return list(sessions), name


@lru_cache(maxsize=4096)
def _next_sessions(name: str, after: dt.date, n: int) -> tuple[tuple[dt.date, ...], str]:
    """next_sessions for a calendar name, kept: most forecasts of a day start from the same last close, and a
    calendar's sessions never change once built (asking exchange_calendars costs about 0.1 ms a request)."""
    day_after = pd.Timestamp(after) + pd.Timedelta(days=1)
    # n sessions span fewer than 2n + 30 calendar days on any exchange (weekends, holiday weeks).
    calendar, name = _calendar_named(name, after, after + dt.timedelta(days=2 * n + 30))
    if calendar is None:
        return tuple(d.date() for d in pd.bdate_range(day_after, periods=n)), WEEKDAYS
    first = calendar.date_to_session(day_after, direction="next")
    return tuple(d.date() for d in calendar.sessions_window(first, n)), name


def session_on_or_after(ticker: str | None, day: dt.date) -> tuple[dt.date, str]:
    """The first session on or after `day` (the day whose close validates a forecast for `day`)."""
    sessions, name = next_sessions(ticker, day - dt.timedelta(days=1), 1)
    return sessions[0], name


def previous_session(ticker: str | None, day: dt.date) -> dt.date:
    """The last session strictly before `day` (the default date a forecast for `day` was made from)."""
    calendar, _ = _calendar_covering(ticker, day - dt.timedelta(days=30), day)
    day_before = pd.Timestamp(day) - pd.Timedelta(days=1)
    if calendar is None:
        return (pd.Timestamp(day) - pd.offsets.BDay(1)).date()
    return calendar.date_to_session(day_before, direction="previous").date()


def sessions_between(ticker: str | None, made_at: dt.date, target: dt.date) -> int:
    """How many sessions lie in (made_at, target]: the horizon step of a forecast for `target`."""
    calendar, _ = _calendar_covering(ticker, made_at, target)
    day_after = pd.Timestamp(made_at) + pd.Timedelta(days=1)
    if calendar is None:
        return int(pd.bdate_range(day_after, pd.Timestamp(target)).size)
    return len(calendar.sessions_in_range(day_after, pd.Timestamp(target)))
