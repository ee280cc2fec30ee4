"""Hostile input: whatever bytes arrive, the parser returns a clean price frame or raises InvalidInput."""
import re
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.csv_input import _decode, _read_table, parse_price_csv, price_frame
from app.errors import InvalidInput

FUZZ = settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
SEED_CSV = b"".join((Path(__file__).parent / "data" / "yahoo_download.csv").read_bytes().splitlines(True)[:20])

HEADERS = [["Date", "Close"], ["Date", "Open", "High", "Low", "Close", "Adj Close", "Volume"],
           ["Date", "Open", "High", "Low", "Close", "Volume", "Dividends", "Stock Splits"]]
ODD_NAMES = ["date", "Datetime", "CLOSE", "adj_close", "Price", "Ticker", "", " ", "Close*", '"Close"', "Close.1",
             "\u00e9", "\u202e"]
ODD_CELLS = ["01/02/2024", "2024-01-02T10:00:00Z", "20240102", "9999-12-31", "0001-01-01", "2024-02-30", "yesterday",
             "", "0", "-1", "1e308", "1e400", "-1e400", "nan", "NaN", "inf", "-inf", "null", "N/A", "1,5", "1_000",
             "\uff15", "0x10", "  7 ", '"8"', '"9,5"', '"', "MSFT", "Date", "Ticker", "Price",
             "99999999999999999999999999", "-0", "+3", ".5", "5.", "1e-320"]
ISO_DATES = st.dates(min_value=pd.Timestamp("1990-01-01").date(), max_value=pd.Timestamp("2030-12-31").date())
DATE_FORMATS = st.sampled_from([str, lambda day: day.strftime("%m/%d/%Y"),  # ISO, Excel, Ticker.history (DST)
                                lambda day: f"{day} 00:00:00{'-05:00' if day.month in (1, 2, 11, 12) else '-04:00'}"])
GOOD_PRICES = st.one_of(st.floats(min_value=0.01, max_value=1e6).map(repr), st.integers(1, 10**12).map(str))
TEXT_CELLS = st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=8)


def outcome(parse, data):
    """The frame `parse` returns, or the (code, message, status) of the InvalidInput it raises."""
    try:
        return parse(data)
    except InvalidInput as exc:
        return exc.code, exc.message, exc.status


def careful_parse(data):
    """The parser without its fast path for plain files (app.csv_fast)."""
    return price_frame(_read_table(_decode(data)))


def assert_clean_frame_or_invalid_input(data) -> None:
    """The property: a clean frame, or InvalidInput with a code, a message and a 4xx status; and the fast path
    for plain files answers exactly as the careful parser does (the same frame or the same error)."""
    frame, careful = outcome(parse_price_csv, data), outcome(careful_parse, data)
    if isinstance(frame, tuple):
        code, message, status = frame
        assert re.fullmatch(r"[a-z][a-z_]*", code), code
        assert message and status in (400, 413, 415)
        assert careful == frame
        return
    pd.testing.assert_frame_equal(frame, careful, check_exact=True)
    assert isinstance(frame, pd.DataFrame) and len(frame) > 0
    assert isinstance(frame.index, pd.DatetimeIndex) and frame.index.name == "date" and frame.index.tz is None
    assert frame.index.is_monotonic_increasing and frame.index.is_unique
    assert set(frame.columns) <= {"open", "high", "low", "close", "adj_close", "volume"}
    assert all(dtype == np.float64 for dtype in frame.dtypes)
    close = frame["close"].to_numpy()
    assert np.isfinite(close).all() and (close > 0).all()


@st.composite
def near_csv(draw) -> bytes:
    """Text shaped like a price CSV: real headers bent a little, separators, line ends, good and bad cells."""
    clean = draw(st.booleans())  # half the cases only bend the layout, so that many are accepted
    good_dates = ISO_DATES.map(draw(DATE_FORMATS))  # one date format per file
    sep = draw(st.sampled_from([",", ",", ",", ";", "\t", "|"]))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    header = list(draw(st.permutations(draw(st.sampled_from(HEADERS)))))
    for _ in range(0 if clean else draw(st.integers(0, 2))):  # add odd columns
        header.insert(draw(st.integers(0, len(header))), draw(st.sampled_from(ODD_NAMES)))
    if not clean and draw(st.booleans()) and len(header) > 2:
        header.pop(draw(st.integers(0, len(header) - 1)))
    preamble = []
    if draw(st.integers(0, 4)) == 0:  # yf.download's extra header lines
        width = len(header) - 1
        tickers = ["MSFT"] * width
        if not clean and width and draw(st.booleans()):  # a second ticker, or a blank one
            tickers[draw(st.integers(0, width - 1))] = draw(st.sampled_from(["AAPL", ""]))
        preamble = [sep.join(["Ticker"] + tickers), sep.join(["Date"] + [""] * width)]
        header = ["Price"] + [name for name in header if name != "Date"]

    def is_date(name):
        return name.strip('"*').lower() in ("date", "datetime", "price")

    def cell(name):
        good = good_dates if is_date(name) else GOOD_PRICES
        return good if clean else st.one_of(good, good, st.sampled_from(ODD_CELLS), TEXT_CELLS)

    row = st.tuples(*[cell(name) for name in header]).map(list)
    date_at = next((i for i, name in enumerate(header) if is_date(name)), 0)
    rows = draw(st.lists(row, max_size=12, unique_by=(lambda cells: cells[date_at]) if clean else None))
    if rows and not clean and draw(st.booleans()):  # a ragged row
        rows[-1] = rows[-1][:-1] if draw(st.booleans()) else rows[-1] + ["x"]
    text = newline.join([sep.join(header)] + preamble + [sep.join(cells) for cells in rows])
    prefix = draw(st.sampled_from(["", "", "\ufeff", "\n\n", " "]))
    return (prefix + text + draw(st.sampled_from(["", newline]))).encode("utf-8", "surrogatepass")


@st.composite
def mutated_fixture(draw) -> bytes:
    """A real Yahoo CSV with a few bytes overwritten, inserted or deleted."""
    data = bytearray(SEED_CSV)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        position = draw(st.integers(min_value=0, max_value=len(data) - 1))
        action = draw(st.sampled_from(["replace", "insert", "delete"]))
        byte = draw(st.sampled_from(list(b",;\n\r\"-:.0159eE+ \x00\xff") + [draw(st.integers(0, 255))]))
        if action == "replace":
            data[position] = byte
        elif action == "insert":
            data.insert(position, byte)
        elif len(data) > 1:
            del data[position]
    return bytes(data)


@FUZZ
@given(st.binary(max_size=2048))
def test_any_bytes(data):
    assert_clean_frame_or_invalid_input(data)


@FUZZ
@given(st.text(max_size=400))
def test_any_text(text):
    assert_clean_frame_or_invalid_input(text.encode("utf-8", "surrogatepass"))


@FUZZ
@given(near_csv())
def test_near_csv_text(data):
    assert_clean_frame_or_invalid_input(data)


@FUZZ
@given(mutated_fixture())
def test_mutated_real_csv(data):
    assert_clean_frame_or_invalid_input(data)


@FUZZ
@given(near_csv())
def test_accepted_frames_round_trip(data):
    """Whatever is accepted, written back with DataFrame.to_csv(), parses to the same frame."""
    try:
        frame = parse_price_csv(data)
    except InvalidInput:
        return
    again = parse_price_csv(frame.to_csv().encode())
    pd.testing.assert_frame_equal(again, frame, check_index_type=False)
