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
EARLIEST_DATE, LATEST_DATE = pd.Timestamp("1800-01-01"), pd.Timestamp("2199-12-31 23:59:59")
# Magic numbers of files people upload by mistake, so the message can say what was sent.
FILE_SIGNATURES = (
    (b"PK\x03\x04", "a ZIP archive or an Excel .xlsx workbook"),
    (b"\xd0\xcf\x11\xe0", "an Excel .xls workbook"),
    (b"\x1f\x8b", "a gzip-compressed file"),
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"\xff\xfe", "UTF-16 text"),
    (b"\xfe\xff", "UTF-16 text"),
)
CONTROL_BYTE = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def parse_price_csv(data: bytes) -> pd.DataFrame:
    """Return a frame indexed by ascending tz-naive "date" with float price columns; raise InvalidInput."""
    raw = _read_table(_decode(data))
    columns = _map_columns(raw.columns)
    date_column = raw[columns["date"]]
    if not isinstance(date_column.dtype, pd.StringDtype):  # e.g. 20240102 read as a number
        date_column = date_column.astype(str)
    date_raw = date_column.to_numpy(dtype=object)
    close_raw = raw[columns["close"]]
    empty_date = date_raw == ""
    if empty_date.any() and close_raw.dtype.kind not in "fiu":
        keep = ~(empty_date & (close_raw.astype(str).str.strip() == "").to_numpy())  # trailing ",,,,," rows
        raw, date_raw, close_raw = raw[keep], date_raw[keep], close_raw[keep]
    if raw.empty:
        raise InvalidInput("no_rows", "the CSV has a header but no data rows; add one row per trading day")
    rows = raw.index.to_numpy()
    dates = _parse_dates(date_raw, rows)
    _reject_implausible_dates(dates, date_raw, rows)
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
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
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
    first_line = text.split("\n", 1)[0]
    sep = next((s for s in ",;\t" if s in first_line), ",")
    try:
        head = list(csv.reader((line.rstrip("\r") for line in text.split("\n", 3)[:3]), delimiter=sep))
    except csv.Error:  # odd quoting in the header: let pandas report it
        head = []
    skip = _extra_header_lines(head)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ParserWarnings about trailing delimiters are not the user's problem
            # na_filter=False keeps "null"/"nan" cells as text, so the error can quote them.
            raw = pd.read_csv(io.StringIO(text), sep=sep, header=0, skiprows=skip, na_filter=False, index_col=False,
                              skipinitialspace=True, skip_blank_lines=True, low_memory=False, engine="c")
    except (ValueError, pd.errors.ParserError, OverflowError) as exc:
        detail = str(exc).strip().splitlines()[-1][:160] if str(exc).strip() else type(exc).__name__
        raise InvalidInput("malformed_csv", f"the CSV could not be read ({detail}); check that every row "
                                            "has the same number of comma-separated fields") from None
    if skip:  # the date column is headed "Price" in yfinance's multi-line header
        raw.columns = ["Date", *raw.columns[1:]]  # cheaper than DataFrame.rename
    return raw


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
        hint = " The first line looks like data: add a header row." if _looks_like_date(str(raw_columns[0])) else ""
        raise InvalidInput("missing_columns", f"missing required column(s) {', '.join(m.title() for m in missing)}; "
                                              f"found columns: {found}{more}. The CSV needs a header like "
                                              f"{EXAMPLE_HEADER} (only Date and Close are required).{hint}")
    return columns


def _parse_dates(values: np.ndarray, rows: np.ndarray) -> pd.DatetimeIndex:
    """Parse ISO dates (or a whole column of US m/d/Y dates); tz-aware stamps keep their local date."""
    if _has_utc_offset(values[0]):  # offsets change with daylight saving time, which pandas refuses to mix
        values = np.array([value[:-6] if _has_utc_offset(value) else value for value in values], dtype=object)
    dates = _to_datetime(values, "ISO8601")
    if dates is not None and not dates.hasnans:
        return dates
    stripped = np.array([value.strip().removesuffix("Z") for value in values], dtype=object)
    for fmt in ("ISO8601", "%m/%d/%Y"):  # m/d/Y is what Excel writes after opening a Yahoo CSV
        dates = _to_datetime(stripped, fmt)
        if dates is not None and not dates.hasnans:
            return dates
    position = next((position for position, value in enumerate(stripped) if not _looks_like_date(value)), None)
    if position is None:  # each date reads alone, but not together
        raise InvalidInput("invalid_date", f"the dates mix formats or time zones (first: {_show(values[0])}); "
                                           "write every date as YYYY-MM-DD (e.g. 2024-01-02)")
    value = values[position]
    what = "has no date" if value.strip() == "" else f"has the date {_show(value)}, which could not be read"
    raise InvalidInput("invalid_date", f"data row {rows[position] + 1} {what}; write dates as YYYY-MM-DD "
                                       "(e.g. 2024-01-02)")


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


def _looks_like_date(value: str) -> bool:
    """True when `value` alone reads as an ISO date."""
    dates = _to_datetime(np.array([value.strip()], dtype=object), "ISO8601")
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
    except (ValueError, TypeError, OverflowError):
        return np.array([_float_or_nan(value) for value in column], dtype=float)


def _float_or_nan(value) -> float:
    """float(value), or NaN when it is not a number."""
    try:
        return float(value)
    except (ValueError, TypeError, OverflowError):
        return float("nan")


def _reject_implausible_dates(dates: pd.DatetimeIndex, date_raw: np.ndarray, rows: np.ndarray) -> None:
    """Years outside 1800-2199 are typos, and would overflow date arithmetic further on."""
    outside = (dates < EARLIEST_DATE) | (dates > LATEST_DATE)
    if outside.any():
        position = int(np.argmax(outside))
        raise InvalidInput("invalid_date", f"data row {rows[position] + 1} has the date {_show(date_raw[position])}, "
                                           "outside the years 1800-2199; check the year")


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
