"""Parse an uploaded price CSV (Yahoo Finance / yfinance formats) into a clean, validated price frame."""
import csv
import io
import re
import warnings

import numpy as np
import pandas as pd

from app.errors import InvalidInput

EXAMPLE_HEADER = "Date,Open,High,Low,Close,Adj Close,Volume"
PRICE_COLUMNS = ("open", "high", "low", "close", "adj_close", "volume")
COLUMN_ALIASES = {"datetime": "date", "adjclose": "adj_close", "adjusted_close": "adj_close"}
DATE_NAMES = {"date", "datetime"}
MAX_COLUMNS = 100
EARLIEST_DATE, LATEST_DATE = pd.Timestamp("1800-01-01"), pd.Timestamp("2199-12-31 23:59:59")
# Magic numbers of files people upload by mistake, so the message can say what was sent.
FILE_SIGNATURES = ((b"PK\x03\x04", "a ZIP archive or an Excel .xlsx workbook"),
                   (b"\xd0\xcf\x11\xe0", "an Excel .xls workbook"), (b"\x1f\x8b", "a gzip-compressed file"),
                   (b"%PDF", "a PDF document"), (b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"),
                   (b"\xff\xfe", "UTF-16 text"), (b"\xfe\xff", "UTF-16 text"))
CONTROL_BYTE = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def parse_price_csv(data: bytes) -> pd.DataFrame:
    """Return a frame indexed by ascending tz-naive "date" with float price columns; raise InvalidInput."""
    raw = _read_table(_decode(data))
    columns = _map_columns(raw.columns)
    date_raw = _date_strings(raw[columns["date"]])
    close_raw = raw[columns["close"]]
    empty_date = date_raw == ""
    if empty_date.any() and close_raw.dtype.kind not in "fiu":
        keep = ~(empty_date & (close_raw.astype(str).str.strip() == "").to_numpy())  # trailing ",,,,," rows
        raw, date_raw, close_raw = raw[keep], date_raw[keep], close_raw[keep]
    if raw.empty:
        raise InvalidInput("no_rows", "the CSV has a header but no data rows; add one row per trading day")
    rows = raw.index.to_numpy()
    dates = _parse_dates(date_raw, rows)
    names = [name for name in PRICE_COLUMNS if name in columns]
    # Only close feeds the model; unreadable cells in the other columns become NaN.
    values = [_parse_closes(close_raw, date_raw, rows) if name == "close" else _to_floats(raw[columns[name]])
              for name in names]
    frame = pd.DataFrame(np.column_stack(values), index=dates.rename("date"), columns=names)
    _reject_duplicate_dates(frame.index, rows)
    if frame.index.is_monotonic_increasing:
        return frame
    if frame.index.is_monotonic_decreasing:  # Yahoo's web table lists the newest day first
        return frame.iloc[::-1]
    return frame.sort_index(kind="stable")


def require_rows(frame: pd.DataFrame, n: int) -> None:
    """Raise InvalidInput("too_few_rows") unless `frame` holds at least `n` rows."""
    if len(frame) < n:
        raise InvalidInput("too_few_rows", f"need at least {n} rows of price history, got {len(frame)}; "
                                           f"upload a longer history (one row per trading day)")


def _decode(data) -> str:
    """Return the upload as text, refusing empty, binary and non-UTF-8 content."""
    data = bytes(data)
    for signature, kind in FILE_SIGNATURES:
        if data.startswith(signature):
            raise _not_csv(f"it looks like {kind}")
    control = CONTROL_BYTE.search(data)
    if control:
        raise _not_csv(f"it contains the binary byte 0x{data[control.start()]:02x} at offset {control.start()}")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _not_csv(f"it is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})") from None
    text = text.lstrip("\ufeff \t\r\n")
    if not text:
        raise InvalidInput("empty_file", f"the CSV is empty; upload a header row like {EXAMPLE_HEADER} "
                                         "followed by one row per trading day")
    if text[0] in "{[<":
        raise _not_csv("it looks like JSON, HTML or XML")
    return text


def _not_csv(reason: str) -> InvalidInput:
    """The 415 error for content that is not CSV text."""
    return InvalidInput("not_csv", f"the upload is not a CSV text file: {reason}; export the prices as a "
                                   f"comma-separated CSV (UTF-8) with a header like {EXAMPLE_HEADER}", status=415)


def _read_table(text: str) -> pd.DataFrame:
    """Read the CSV with pandas' C parser; the 2-3 line header of yf.download(...).to_csv() becomes one."""
    lines = text[:65536].splitlines()[:8]  # any line ends: \n, \r\n, old Mac \r
    sep = next((s for s in ",;\t" if s in lines[0]), ",")
    if lines[0].count(sep) >= MAX_COLUMNS:  # pandas slows down badly on very wide headers
        raise InvalidInput("malformed_csv", f"the header has more than {MAX_COLUMNS} columns; a price CSV needs "
                                            f"only a few, like {EXAMPLE_HEADER}")
    try:
        head = list(csv.reader(lines, delimiter=sep))
    except csv.Error:  # odd quoting in the header: let pandas report it
        head = []
    skip = _extra_header_lines(head)
    _reject_wide_first_row(head, skip)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", pd.errors.ParserWarning)
            # na_filter=False keeps "null"/"nan" cells as text, so the error can quote them.
            raw = pd.read_csv(io.StringIO(text), sep=sep, header=0, skiprows=skip, na_filter=False, index_col=False,
                              skipinitialspace=True, skip_blank_lines=True, low_memory=False, engine="c")
    except (ValueError, pd.errors.ParserError, OverflowError) as exc:
        detail = str(exc).strip().splitlines()[-1][:160] if str(exc).strip() else type(exc).__name__
        raise InvalidInput("malformed_csv", f"the CSV could not be read ({detail}); check that every row "
                                            "has the same number of fields as the header") from None
    if any(issubclass(warning.category, pd.errors.ParserWarning) for warning in caught):
        # pandas would silently drop the extra fields
        _raise_too_many_fields(f"a data row has more fields than the header's {len(raw.columns)}")
    if skip:  # the date column is headed "Price" in yfinance's multi-line header
        raw.columns = ["Date", *raw.columns[1:]]  # cheaper than DataFrame.rename
    return raw


def _reject_wide_first_row(head: list, skip: list) -> None:
    """Refuse a first data row wider than the header early: pandas is slow on it and would drop the extra."""
    rows = [cells for number, cells in enumerate(head) if number not in skip]
    header = rows[0] if rows else []
    data = next((cells for cells in rows[1:] if any(cells)), [])
    if len(data) > len(header) and any(cell.strip() for cell in data[len(header):]):
        _raise_too_many_fields(f"data row 1 has {len(data)} fields but the header has {len(header)}")


def _raise_too_many_fields(problem: str):
    """The error for rows wider than the header, which usually means an unquoted thousands separator."""
    raise InvalidInput("malformed_csv", f"{problem}; quote values that contain the separator (e.g. \"1,234.50\") "
                                        "or drop thousands separators")


def _extra_header_lines(head: list) -> list:
    """Line numbers of yfinance's "Ticker,MSFT,..." and "Date,,,," header lines (empty for a plain CSV)."""
    firsts = [cells[0].strip().lower() if cells else "" for cells in head]
    if firsts[:1] != ["price"] and firsts[:2] != ["ticker", "price"]:
        return []
    skip = []
    if "ticker" in firsts[:2]:
        number = firsts.index("ticker")
        tickers = sorted({cell.strip() for cell in head[number][1:] if cell.strip()})
        if len(tickers) > 1:
            raise InvalidInput("multiple_tickers", f"the CSV holds {len(tickers)} tickers "
                                                   f"({', '.join(_show(t) for t in tickers[:5])}); "
                                                   "upload one ticker per file")
        skip.append(number)
    number = len(skip) + 1  # the index-name line ("Date,,,,,") follows the column-level lines
    if len(head) > number and firsts[number] in DATE_NAMES and not any(c.strip() for c in head[number][1:]):
        skip.append(number)
    return skip


def _map_columns(raw_columns) -> dict:
    """Map canonical names (date, close, open, ...) to the CSV's own column labels."""
    columns = {}
    for position, label in enumerate(raw_columns):
        name = re.sub(r"[\s\-.]+", "_", str(label).strip(" \t\"'*\ufeff").lower())
        name = COLUMN_ALIASES.get(name, name)
        if position == 0 and name.startswith("unnamed") and "date" not in columns:
            name = "date"  # DataFrame.to_csv() of an unnamed DatetimeIndex leaves the header cell empty
        if name in columns and (name == "date" or name in PRICE_COLUMNS):
            raise InvalidInput("duplicate_columns", f"the column {name!r} appears twice ({_show(columns[name])} "
                                                    f"and {_show(label)}); keep one")
        columns.setdefault(name, label)
    missing = [name for name in ("date", "close") if name not in columns]
    if missing:
        found = ", ".join(_show(label) for label in list(raw_columns)[:12])
        more = f" and {len(raw_columns) - 12} more" if len(raw_columns) > 12 else ""
        headless = _reads_as_date(str(raw_columns[0]), "ISO8601")
        hint = " The first line looks like data: add a header row." if headless else ""
        raise InvalidInput("missing_columns", f"missing required column(s) {', '.join(m.title() for m in missing)}; "
                                              f"found columns: {found}{more}. The CSV needs a header like "
                                              f"{EXAMPLE_HEADER} (only Date and Close are required).{hint}")
    return columns


def _date_strings(column: pd.Series) -> np.ndarray:
    """The date cells as an object array of str; a numeric column must hold yyyymmdd numbers."""
    if column.dtype.kind in "biuf":  # checked as numbers first: turning millions of them into text is slow
        outside = ~((column.to_numpy() >= 18000101) & (column.to_numpy() <= 21991231))
        if outside.any():
            position = int(np.argmax(outside))
            _raise_unreadable_date(column.index[position], str(column.iloc[position]))
    if not isinstance(column.dtype, pd.StringDtype):
        column = column.astype(str)
    return column.to_numpy(dtype=object)


def _parse_dates(values: np.ndarray, rows: np.ndarray) -> pd.DatetimeIndex:
    """Parse ISO dates (or a whole column of US m/d/Y dates); tz-aware stamps keep their local date."""
    if _has_utc_offset(values[0]):  # offsets change with daylight saving time, which pandas refuses to mix
        values = np.array([value[:-6] if _has_utc_offset(value) else value for value in values], dtype=object)
    dates = _to_datetime(values, "ISO8601")
    if dates is None or dates.hasnans:
        dates = _parse_unusual_dates(values, rows)
    outside = (dates < EARLIEST_DATE) | (dates > LATEST_DATE)  # typos, and they would overflow date arithmetic
    if outside.any():
        position = int(np.argmax(outside))
        raise InvalidInput("invalid_date", f"data row {rows[position] + 1} has the date {_show(values[position])}, "
                                           "outside the years 1800-2199; check the year")
    return dates


def _parse_unusual_dates(values: np.ndarray, rows: np.ndarray) -> pd.DatetimeIndex:
    """Second chance for stray spaces, a "Z" suffix or US m/d/Y dates; else name the first unreadable date."""
    first = values[0].strip().removesuffix("Z")
    # Formats the first date does not fit are not tried on the whole column: garbage fails fast.
    formats = [fmt for fmt in ("ISO8601", "%m/%d/%Y") if _reads_as_date(first, fmt)]
    position = 0
    if formats:
        stripped = np.array([value.strip().removesuffix("Z") for value in values], dtype=object)
        for fmt in formats:  # m/d/Y is what Excel writes after opening a Yahoo CSV
            dates = _to_datetime(stripped, fmt)
            if dates is not None and not dates.hasnans:
                return dates
        position = int(np.argmax(dates.isna())) if dates is not None else _first_unreadable_date(stripped)
    if position is None:  # each date reads alone, but not together
        raise InvalidInput("invalid_date", f"the dates mix formats or time zones (first: {_show(values[0])}); "
                                           "write every date as YYYY-MM-DD (e.g. 2024-01-02)")
    _raise_unreadable_date(rows[position], values[position])


def _raise_unreadable_date(row: int, value: str):
    """The error for a date cell that reads as no date; `row` counts data rows from 0."""
    what = "has no date" if value.strip() == "" else f"has the date {_show(value)}, which could not be read"
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


def _reads_as_date(value: str, fmt: str) -> bool:
    """True when `value` alone reads as a date in `fmt`."""
    dates = _to_datetime(np.array([value.strip()], dtype=object), fmt)
    return dates is not None and not dates.hasnans


def _parse_closes(close_raw: pd.Series, date_raw: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Closes as floats; any missing, non-numeric, non-finite or non-positive close is rejected."""
    values = _to_floats(close_raw)
    bad = ~(np.isfinite(values) & (values > 0))
    if not bad.any():
        return values
    position = int(np.argmax(bad))
    value, number = str(close_raw.iloc[position]).strip(), values[position]
    if value == "":
        problem = "is missing"
    elif np.isnan(number) and value.lower().lstrip("+-") != "nan":
        problem = f"{_show(value)} is not a number"
    elif not np.isfinite(number):
        problem = f"{_show(value)} is not a finite number"
    else:
        problem = f"{_show(value)} is not positive"
    where = f"data row {rows[position] + 1} (date {_show(date_raw[position])})"
    raise InvalidInput("invalid_close", f"the close in {where} {problem}; every row needs a positive price "
                                        "like 4742.83 (remove rows with null or zero closes)")


def _to_floats(column: pd.Series) -> np.ndarray:
    """A column as float64; cells that are not numbers become NaN."""
    if column.dtype.kind in "fiu":  # the C parser already converted it: the fast, common case
        return column.to_numpy(dtype=float)
    try:
        return pd.to_numeric(column.astype(str).str.strip(), errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    except (ValueError, TypeError, OverflowError):  # nothing readable: the close check names the first cell
        return np.full(len(column), np.nan)


def _reject_duplicate_dates(index: pd.DatetimeIndex, rows: np.ndarray) -> None:
    """Raise InvalidInput naming the first date that occurs twice."""
    duplicated = index.duplicated()
    if duplicated.any():
        second = int(np.argmax(duplicated))
        first = int(np.flatnonzero(index == index[second])[0])
        raise InvalidInput("duplicate_date", f"the date {index[second].isoformat(sep=' ').removesuffix(' 00:00:00')}"
                                             f" appears more than once (data rows {rows[first] + 1} and "
                                             f"{rows[second] + 1}); keep one row per date")


def _show(value, limit: int = 40) -> str:
    """Quote a user-supplied value for a message, cut to `limit` characters."""
    text = str(value)
    return repr(text if len(text) <= limit else text[:limit] + "...")
