"""Parse an uploaded price CSV (Yahoo Finance / yfinance formats) into a clean, validated price frame."""
import csv
import io
import re
import warnings

import numpy as np
import pandas as pd

from app.csv_dates import date_strings, parse_dates, reads_as_date, show_value
from app.csv_fast import read_plain_csv
from app.errors import InvalidInput

EXAMPLE_HEADER = "Date,Open,High,Low,Close,Adj Close,Volume"
PRICE_COLUMNS = ("open", "high", "low", "close", "adj_close", "volume")
COLUMN_ALIASES = {"datetime": "date", "adjclose": "adj_close", "adjusted_close": "adj_close"}
DATE_NAMES = {"date", "datetime"}
MAX_COLUMNS = 100
# Magic numbers of files people upload by mistake, so the message can say what was sent.
FILE_SIGNATURES = ((b"PK\x03\x04", "a ZIP archive or an Excel .xlsx workbook"),
                   (b"\xd0\xcf\x11\xe0", "an Excel .xls workbook"), (b"\x1f\x8b", "a gzip-compressed file"),
                   (b"%PDF", "a PDF document"), (b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"),
                   (b"\xff\xfe", "UTF-16 text"), (b"\xfe\xff", "UTF-16 text"))
CONTROL_BYTE = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
CONTROL_BYTES = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])


def parse_price_csv(data: bytes) -> pd.DataFrame:
    """Return a frame indexed by ascending tz-naive "date" with float price columns; raise InvalidInput."""
    text = _decode(data)
    plain = read_plain_csv(text, _map_columns, PRICE_COLUMNS, MAX_COLUMNS)  # the common layout, fast
    return plain if plain is not None else price_frame(_read_table(text))


def price_frame(raw: pd.DataFrame) -> pd.DataFrame:
    """The checks and cleaning of parse_price_csv on a table already read (columns Date, ..., Close, ...)."""
    columns = _map_columns(raw.columns)
    date_raw = date_strings(raw[columns["date"]])
    close_raw = raw[columns["close"]]
    empty_date = date_raw == ""
    if empty_date.any() and close_raw.dtype.kind not in "fiu":
        keep = ~(empty_date & (close_raw.astype(str).str.strip() == "").to_numpy())  # trailing ",,,,," rows
        raw, date_raw, close_raw = raw[keep], date_raw[keep], close_raw[keep]
    if raw.empty:
        raise InvalidInput("no_rows", "the CSV has a header but no data rows; add one row per trading day")
    rows = raw.index.to_numpy()
    dates = parse_dates(date_raw, rows)
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
    # translate() drops the control bytes in one C pass (~10x faster than the search on a clean file); the
    # search then finds the first one for the message.
    control = CONTROL_BYTE.search(data) if len(data.translate(None, CONTROL_BYTES)) != len(data) else None
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
                                                   f"({', '.join(show_value(t) for t in tickers[:5])}); "
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
            raise InvalidInput("duplicate_columns", f"the column {name!r} appears twice ({show_value(columns[name])} "
                                                    f"and {show_value(label)}); keep one")
        columns.setdefault(name, label)
    missing = [name for name in ("date", "close") if name not in columns]
    if missing:
        found = ", ".join(show_value(label) for label in list(raw_columns)[:12])
        more = f" and {len(raw_columns) - 12} more" if len(raw_columns) > 12 else ""
        headless = reads_as_date(str(raw_columns[0]), "ISO8601")
        hint = " The first line looks like data: add a header row." if headless else ""
        raise InvalidInput("missing_columns", f"missing required column(s) {', '.join(m.title() for m in missing)}; "
                                              f"found columns: {found}{more}. The CSV needs a header like "
                                              f"{EXAMPLE_HEADER} (only Date and Close are required).{hint}")
    return columns


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
        problem = f"{show_value(value)} is not a number"
    elif not np.isfinite(number):
        problem = f"{show_value(value)} is not a finite number"
    else:
        problem = f"{show_value(value)} is not positive"
    where = f"data row {rows[position] + 1} (date {show_value(date_raw[position])})"
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
