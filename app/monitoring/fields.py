"""Checks of the fields clients send to the monitoring endpoints, each failing with a precise InvalidInput."""
from __future__ import annotations

import datetime as dt
import math
import re

from app.csv_dates import EARLIEST_DATE, LATEST_DATE
from app.errors import InvalidInput
from app.trading_days import next_sessions, previous_session

# ASCII digits only: \d and str.isdigit() also accept other scripts' digits and superscripts.
_LABEL_RE = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DIGITS_RE = re.compile(r"[0-9]{1,9}")


def whole_number(raw, name: str, low: int, high: int) -> int:
    """An integer written in ASCII digits, from low to high."""
    text = str(raw).strip()
    if not _DIGITS_RE.fullmatch(text) or not low <= int(text) <= high:
        raise InvalidInput(f"bad_{name}", f"{name} must be a whole number from {low} to {high}, got {text[:20]!r}")
    return int(text)


def positive_number(body: dict, name: str, required: bool) -> float | None:
    """A positive finite JSON number (a price); None when absent or null and not required."""
    value = body.get(name)
    if value is None:
        if required:
            raise InvalidInput(f"missing_{name}", f"field {name!r} is required: a positive number (a price)")
        return None
    try:
        number = float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan
    except OverflowError:  # an integer too large for a float
        number = math.inf
    if not math.isfinite(number) or number <= 0:
        raise InvalidInput(f"bad_{name}", f"field {name!r} must be a positive finite number, got {str(value)[:30]!r}")
    return number


def iso_date(body: dict, name: str, required: bool) -> dt.date | None:
    """A YYYY-MM-DD date; None when absent or null and not required."""
    value = body.get(name)
    if value is None:
        if required:
            raise InvalidInput(f"missing_{name}", f"field {name!r} is required: a date like \"2024-01-05\"")
        return None
    text = str(value).strip()
    try:
        if not _DATE_RE.fullmatch(text):
            raise ValueError(text)
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"bad_{name}", f"field {name!r} must be a date in the form YYYY-MM-DD, "
                                          f"got {text[:30]!r}") from None
    if not EARLIEST_DATE.year <= day.year <= LATEST_DATE.year:  # the same bounds as uploaded CSV dates
        raise InvalidInput(f"bad_{name}", f"field {name!r} must be a date in the years {EARLIEST_DATE.year}-"
                                          f"{LATEST_DATE.year}, got {text!r}")
    return day


def is_label(text: str) -> bool:
    """True for a request id or model version: 1 to 64 characters among A-Z a-z 0-9 . _ : -."""
    return bool(_LABEL_RE.fullmatch(text))


def short_label(body: dict, name: str, default: str) -> str:
    """A request id or model version: 1 to 64 safe characters; default when absent, null or empty."""
    value = body.get(name)
    if value is None or not str(value).strip():
        return default
    text = str(value).strip()
    if not is_label(text):
        raise InvalidInput(f"bad_{name}", f"field {name!r} must be 1 to 64 characters among A-Z a-z 0-9 . _ : -")
    return text


def forecast_dates(body: dict, ticker: str, today: dt.date) -> tuple[dt.date, dt.date, str | None]:
    """made_at, target_date and, when the target was not given, the calendar that chose it.

    Without target_date the forecast is for the next trading session after made_at, which defaults to today
    (clients of the earlier monitoring API sent only prediction_value, ticker and request_id).
    """
    target = iso_date(body, "target_date", required=False)
    made_at = iso_date(body, "made_at", required=False)
    if target is not None:
        return made_at or previous_session(ticker, target), target, None
    made_at = made_at or today
    (target,), calendar = next_sessions(ticker, made_at, 1)
    return made_at, target, calendar
