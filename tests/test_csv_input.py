"""The CSV parser accepts the real-world formats people upload and rejects bad input with precise messages."""
import builtins
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from app.csv_input import parse_price_csv, require_rows
from app.errors import InvalidInput, error_response

DATA = Path(__file__).parent / "data"
SOURCE = Path(__file__).parents[1] / "downloadData" / "data" / "GSPC_data.csv"
ACCEPTED = ["yahoo_download.csv", "yf_download_multiheader.csv", "ticker_history_tz.csv", "bom_crlf.csv",
            "descending.csv", "mixed_case_columns.csv", "excel_us_dates.csv"]
GOOD_ROWS = "2024-01-02,470.5\n2024-01-03,468.8\n"


@pytest.fixture(scope="module")
def reference():
    """The last 120 S&P 500 closes the fixtures were made from."""
    return pd.read_csv(SOURCE, index_col="Date", parse_dates=True)["Close"].tail(120)


@pytest.mark.parametrize("name", ACCEPTED)
def test_every_accepted_format_gives_the_same_closes(name, reference):
    frame = parse_price_csv((DATA / name).read_bytes())
    assert frame.index.name == "date"
    assert frame.index.tz is None
    assert frame.index.is_monotonic_increasing and frame.index.is_unique
    np.testing.assert_array_equal(frame.index.to_numpy(dtype="datetime64[ns]"),
                                  reference.index.to_numpy(dtype="datetime64[ns]"))
    np.testing.assert_array_equal(frame["close"].to_numpy(), reference.to_numpy())
    assert set(frame.columns) <= {"open", "high", "low", "close", "adj_close", "volume"}
    assert all(dtype == np.float64 for dtype in frame.dtypes)


@pytest.mark.parametrize("name, columns", [
    ("yahoo_download.csv", ["open", "high", "low", "close", "adj_close", "volume"]),
    ("mixed_case_columns.csv", ["open", "high", "low", "close", "adj_close", "volume"]),  # "Note" ignored
    ("yf_download_multiheader.csv", ["open", "high", "low", "close", "volume"]),
    ("ticker_history_tz.csv", ["open", "high", "low", "close", "volume"]),  # Dividends, Stock Splits ignored
])
def test_known_columns_are_kept_in_a_fixed_order(name, columns):
    assert list(parse_price_csv((DATA / name).read_bytes()).columns) == columns


def test_fixtures_stay_small():
    assert all(path.stat().st_size < 20_000 for path in DATA.glob("*.csv"))


def test_only_date_and_close_are_required():
    frame = parse_price_csv(b"Date,Close\n" + GOOD_ROWS.encode())
    assert list(frame.columns) == ["close"]
    assert frame["close"].tolist() == [470.5, 468.8]


def test_tz_aware_stamps_keep_the_exchange_date():
    # Tokyo midnight is the previous day in UTC: the local trading date must survive.
    frame = parse_price_csv(b"Date,Close\n2024-01-04 00:00:00+09:00,1.5\n2024-01-05 00:00:00+09:00,1.6\n")
    assert [str(day.date()) for day in frame.index] == ["2024-01-04", "2024-01-05"]


def test_unsorted_dates_are_sorted_and_rows_follow():
    frame = parse_price_csv(b"Date,Close\n2024-01-03,2\n2024-01-02,1\n2024-01-04,3\n")
    assert frame["close"].tolist() == [1.0, 2.0, 3.0]


@pytest.mark.parametrize("text", [
    "Date,Close\r\n2024-01-02,470.5\r\n2024-01-03,468.8\r\n",  # CRLF
    "\ufeffdate,CLOSE\n2024-01-02,470.5\n2024-01-03,468.8\n",  # BOM, odd case
    "Date;Close\n2024-01-02;470.5\n2024-01-03;468.8\n",  # semicolon-separated (European Excel)
    "Date\tClose\n2024-01-02\t470.5\n2024-01-03\t468.8\n",  # tab-separated
    ",Close\n2024-01-02,470.5\n2024-01-03,468.8\n",  # DataFrame.to_csv() of an unnamed index
    "Datetime,Close\n2024-01-02,470.5\n2024-01-03,468.8\n",  # yfinance intraday index name
    "Date,Close\n 2024-01-02 , 470.5 \n2024-01-03,468.8\n",  # stray spaces
    "Date,Close\n20240102,470.5\n20240103,468.8\n",  # yyyymmdd, read as numbers
    "Date,Close,\n2024-01-02,470.5,\n2024-01-03,468.8,\n",  # trailing separators
    "Price,Close\rTicker,SPY\rDate,\r2024-01-02,470.5\r2024-01-03,468.8\r",  # yf.download with old Mac line ends
    "Ticker,SPY\nPrice,Close\nDate,\n2024-01-02,470.5\n2024-01-03,468.8\n",  # yf.download(group_by="ticker")
    "\n\nDate,Close\n2024-01-02,470.5\n\n2024-01-03,468.8\n,\n,\n",  # blank lines, spreadsheet's empty rows
    "Date,Close*,Adj Close**\n2024-01-02,470.5,1\n2024-01-03,468.8,1\n",  # copied from Yahoo's web table
])
def test_variants_of_the_same_prices(text):
    frame = parse_price_csv(text.encode())
    assert frame["close"].tolist() == [470.5, 468.8]
    assert [str(day.date()) for day in frame.index] == ["2024-01-02", "2024-01-03"]


def test_unreadable_optional_cells_become_nan():
    frame = parse_price_csv(b"Date,Open,Close,Volume\n2024-01-02,null,470.5,1e6\n2024-01-03,1,468.8,n/a\n")
    assert np.isnan(frame["open"].iloc[0]) and np.isnan(frame["volume"].iloc[1])


def test_bytes_like_inputs_are_accepted():
    data = b"Date,Close\n" + GOOD_ROWS.encode()
    for value in (bytearray(data), memoryview(data)):
        assert len(parse_price_csv(value)) == 2


def test_parsing_never_touches_the_disk(monkeypatch):
    data = (DATA / "ticker_history_tz.csv").read_bytes()

    def refuse(*args, **kwargs):
        raise AssertionError(f"open{args} called while parsing")

    monkeypatch.setattr(builtins, "open", refuse)
    assert len(parse_price_csv(data)) == 120


BAD = [
    (b"", 400, "empty_file", "the CSV is empty"),
    (b" \r\n\n", 400, "empty_file", "the CSV is empty"),
    (b"\xef\xbb\xbf", 400, "empty_file", "the CSV is empty"),
    (b"Date,Close\n", 400, "no_rows", "no data rows"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", 415, "not_csv", "a PNG image"),
    (b"PK\x03\x04\x14\x00", 415, "not_csv", "Excel .xlsx workbook"),
    (b"\xff\xfeD\x00a\x00", 415, "not_csv", "UTF-16 text"),
    (b"Date,Close\n2024-01-02,1\x00\n", 415, "not_csv", "binary byte 0x00 at offset 23"),
    ("Date,Close\n2024-01-02,caf\xe9\n".encode("latin-1"), 415, "not_csv", "not UTF-8 text (byte 0xe9 at offset 25)"),
    (b'{"Date": "2024-01-02", "Close": 1}', 415, "not_csv", "looks like JSON, HTML or XML"),
    (b"<!doctype html><html></html>", 415, "not_csv", "looks like JSON, HTML or XML"),
    (b"Date,Open,High\n2024-01-02,1,2\n", 400, "missing_columns",
     "missing required column(s) Close; found columns: 'Date', 'Open', 'High'"),
    (b"Day,Price\n2024-01-02,1\n", 400, "missing_columns", "missing required column(s) Date, Close; found"),
    (b"2024-01-02,470.5\n2024-01-03,468.8\n", 400, "missing_columns", "The first line looks like data"),
    (b"Date,Close,close\n2024-01-02,1,2\n", 400, "duplicate_columns", "'close' appears twice ('Close' and 'close')"),
    (b"Price,Close,Close\nTicker,AAPL,MSFT\nDate,,\n2024-01-02,1,2\n", 400, "multiple_tickers",
     "2 tickers ('AAPL', 'MSFT'); upload one ticker per file"),
    (b"Date,Close\n2024-01-02,1\n2024-01-03,abc\n", 400, "invalid_close",
     "data row 2 (date '2024-01-03') 'abc' is not a number"),
    (b"Date,Close\n2024-01-02,null\n", 400, "invalid_close", "'null' is not a number"),
    (b"Date;Close\n2024-01-02;470,5\n", 400, "invalid_close", "'470,5' is not a number"),
    (b"Date,Close\n2024-01-02,\n", 400, "invalid_close", "data row 1 (date '2024-01-02') is missing"),
    (b"Date,Close\n2024-01-02,1\n2024-01-03,nan\n", 400, "invalid_close", "'nan' is not a finite number"),
    (b"Date,Close\n2024-01-02,inf\n", 400, "invalid_close", "'inf' is not a finite number"),
    (b"Date,Close\n2024-01-02,-3.5\n", 400, "invalid_close", "'-3.5' is not positive"),
    (b"Date,Close\n2024-01-02,0\n", 400, "invalid_close", "data row 1 (date '2024-01-02') '0' is not positive"),
    (b"Date,Close\n2024-01-02,1\nyesterday,2\n", 400, "invalid_date",
     "data row 2 has the date 'yesterday', which could not be read; write dates as YYYY-MM-DD"),
    (b"Date,Close\n2024-13-45,1\n", 400, "invalid_date", "the date '2024-13-45'"),
    (b"Date,Close\n2024-01-02,1\n,2\n", 400, "invalid_date", "data row 2 has no date"),
    (b"Date,Close\n9999-01-01,1\n", 400, "invalid_date", "'9999-01-01', outside the years 1800-2199"),
    (b"Date,Close\n2024-01-02,1\n2024-01-03,2\n2024-01-02,3\n", 400, "duplicate_date",
     "the date 2024-01-02 appears more than once (data rows 1 and 3)"),
    (b"Date,Close\n2024-01-02,1\n2024-01-03,1,2\n", 400, "malformed_csv", "Expected 2 fields in line 3, saw 3"),
    (b"Date,Close,Volume\n2024-01-02,1,234.50,1000\n", 400, "malformed_csv",
     'data row 1 has 4 fields but the header has 3; quote values that contain the separator (e.g. "1,234.50")'),
    (b"Date,Close\n\n\n\n\n\n\n\n\n2024-01-02,1,5\n", 400, "malformed_csv",
     "a data row has more fields than the header"),
    (b"Date,Close\n20240102,1\n1,2\n", 400, "invalid_date", "data row 2 has the date '1', which could not be read"),
    (b"," * 100 + b"\n", 400, "malformed_csv", "the header has more than 100 columns"),
    (b'Date,Close\n"2024-01-02,1\n', 400, "malformed_csv", "EOF inside string"),
]


@pytest.mark.parametrize("data, status, code, fragment", BAD, ids=[bad[2] for bad in BAD])
def test_bad_input_is_rejected_with_a_precise_message(data, status, code, fragment):
    with pytest.raises(InvalidInput) as caught:
        parse_price_csv(data)
    assert (caught.value.status, caught.value.code) == (status, code)
    assert fragment in caught.value.message


def test_user_values_in_messages_are_cut_short():
    with pytest.raises(InvalidInput) as caught:
        parse_price_csv(b"Date,Close\n2024-01-02," + b"x" * 10_000 + b"\n")
    assert len(caught.value.message) < 300


def test_require_rows_names_both_counts():
    frame = parse_price_csv(b"Date,Close\n" + GOOD_ROWS.encode())
    require_rows(frame, 2)
    with pytest.raises(InvalidInput) as caught:
        require_rows(frame, 61)
    assert caught.value.code == "too_few_rows" and caught.value.status == 400
    assert "need at least 61 rows of price history, got 2" in caught.value.message


def test_error_response_is_the_json_contract():
    response = error_response(413, "payload_too_large", "the upload exceeds 10 MB", limit_mb=10)
    assert response.status_code == 413 and response.mimetype == "application/json"
    assert json.loads(response.get_data()) == {"error": "payload_too_large", "message": "the upload exceeds 10 MB",
                                               "limit_mb": 10}


def test_invalid_input_defaults_to_400():
    error = InvalidInput("bad_horizon", "horizon must be 1 to 30")
    assert (error.code, error.message, error.status, str(error)) == ("bad_horizon", "horizon must be 1 to 30", 400,
                                                                     "horizon must be 1 to 30")
