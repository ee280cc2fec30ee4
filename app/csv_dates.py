"""Read the date column of an uploaded price CSV: ISO dates, tz-aware stamps, yyyymmdd numbers, US m/d/Y."""
import numpy as np
import pandas as pd

from app.errors import InvalidInput

EARLIEST_DATE, LATEST_DATE = pd.Timestamp("1800-01-01"), pd.Timestamp("2199-12-31 23:59:59")


def date_strings(column: pd.Series) -> np.ndarray:
    """The date cells as an object array of str; a numeric column must hold yyyymmdd numbers."""
    if column.dtype.kind in "biuf":  # checked as numbers first: turning millions of them into text is slow
        outside = ~((column.to_numpy() >= 18000101) & (column.to_numpy() <= 21991231))
        if outside.any():
            position = int(np.argmax(outside))
            _raise_unreadable_date(column.index[position], str(column.iloc[position]))
    if not isinstance(column.dtype, pd.StringDtype):
        column = column.astype(str)
    return column.to_numpy(dtype=object)


def parse_dates(values: np.ndarray, rows: np.ndarray) -> pd.DatetimeIndex:
    """Parse ISO dates (or a whole column of US m/d/Y dates); tz-aware stamps keep their local date."""
    if _has_utc_offset(values[0]):  # offsets change with daylight saving time, which pandas refuses to mix
        values = np.array([value[:-6] if _has_utc_offset(value) else value for value in values], dtype=object)
    dates = _to_datetime(values, "ISO8601")
    if dates is None or dates.hasnans:
        dates = _parse_unusual_dates(values, rows)
    outside = (dates < EARLIEST_DATE) | (dates > LATEST_DATE)  # typos, and they would overflow date arithmetic
    if outside.any():
        position = int(np.argmax(outside))
        shown = show_value(values[position])
        raise InvalidInput("invalid_date", f"data row {rows[position] + 1} has the date {shown}, outside the years "
                                           "1800-2199; check the year")
    return dates


def _parse_unusual_dates(values: np.ndarray, rows: np.ndarray) -> pd.DatetimeIndex:
    """Second chance for stray spaces, a "Z" suffix or US m/d/Y dates; else name the first unreadable date."""
    first = values[0].strip().removesuffix("Z")
    # Formats the first date does not fit are not tried on the whole column: garbage fails fast.
    formats = [fmt for fmt in ("ISO8601", "%m/%d/%Y") if reads_as_date(first, fmt)]
    position = 0
    if formats:
        stripped = np.array([value.strip().removesuffix("Z") for value in values], dtype=object)
        for fmt in formats:  # m/d/Y is what Excel writes after opening a Yahoo CSV
            dates = _to_datetime(stripped, fmt)
            if dates is not None and not dates.hasnans:
                return dates
        position = int(np.argmax(dates.isna())) if dates is not None else _first_unreadable_date(stripped)
    if position is None:  # each date reads alone, but not together
        raise InvalidInput("invalid_date", f"the dates mix formats or time zones (first: {show_value(values[0])}); "
                                           "write every date as YYYY-MM-DD (e.g. 2024-01-02)")
    _raise_unreadable_date(rows[position], values[position])


def _raise_unreadable_date(row: int, value: str):
    """The error for a date cell that reads as no date; `row` counts data rows from 0."""
    what = "has no date" if value.strip() == "" else f"has the date {show_value(value)}, which could not be read"
    raise InvalidInput("invalid_date", f"data row {row + 1} {what}; write dates as YYYY-MM-DD (e.g. 2024-01-02)")


def _first_unreadable_date(values: np.ndarray):
    """Position of the first value that is no ISO date even on its own, or None."""
    try:  # utc=True tolerates mixed offsets, so only unreadable values come out as NaT
        unreadable = pd.to_datetime(values, format="ISO8601", errors="coerce", utc=True).isna()
        return int(np.argmax(unreadable)) if unreadable.any() else None
    except (ValueError, TypeError, OverflowError):
        return 0


def _has_utc_offset(value: str) -> bool:
    """True for "...HH:MM:SS+HH:MM", the stamps DataFrame.to_csv() writes for a tz-aware index."""
    return len(value) > 16 and value[-3] == ":" and value[-6] in "+-" and value[-9] == ":"


def _to_datetime(values: np.ndarray, fmt: str):
    """pandas.to_datetime made tz-naive (wall time), or None when the column as a whole cannot be parsed."""
    try:
        dates = pd.to_datetime(values, format=fmt, errors="coerce")
    except (ValueError, TypeError, OverflowError):  # e.g. naive and tz-aware stamps mixed
        return None
    if not isinstance(dates, pd.DatetimeIndex):
        return None
    return dates.tz_localize(None) if dates.tz is not None else dates


def reads_as_date(value: str, fmt: str) -> bool:
    """True when `value` alone reads as a date in `fmt`."""
    dates = _to_datetime(np.array([value.strip()], dtype=object), fmt)
    return dates is not None and not dates.hasnans


def show_value(value, limit: int = 40) -> str:
    """Quote a user-supplied value for a message, cut to `limit` characters."""
    text = str(value)
    return repr(text if len(text) <= limit else text[:limit] + "...")
