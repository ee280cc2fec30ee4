"""The fast reader for plain uploads: it takes the common layout, and answers exactly as the careful parser does."""
from pathlib import Path

import pandas as pd
import pytest

from app.csv_fast import read_plain_csv
from app.csv_input import MAX_COLUMNS, PRICE_COLUMNS, _decode, _map_columns, parse_price_csv
from tests.test_csv_fuzz import careful_parse, outcome

ROOT = Path(__file__).resolve().parent.parent
PLAIN_FILES = [ROOT / "downloadData/data/GSPC_data.csv", ROOT / "downloadData/data/MSFT_data.csv",
               *(ROOT / "tests/data" / name for name in ("yahoo_download.csv", "descending.csv", "bom_crlf.csv"))]
YEAR = pd.read_csv(PLAIN_FILES[0]).tail(252).to_csv(index=False)


def fast(data: bytes):
    return read_plain_csv(_decode(data), _map_columns, PRICE_COLUMNS, MAX_COLUMNS)


@pytest.mark.parametrize("path", PLAIN_FILES, ids=lambda p: p.name)
def test_plain_files_take_the_fast_path_and_give_the_careful_frame(path):
    data = path.read_bytes()
    frame = fast(data)
    assert frame is not None and len(frame) > 100
    pd.testing.assert_frame_equal(frame, careful_parse(data), check_exact=True)


def edit(text: str, old: str, new: str, count: int = 1) -> bytes:
    assert old in text
    return text.replace(old, new, count).encode()


LINES = YEAR.splitlines()


def with_cell(row: int, column: int, value: str) -> bytes:
    """The year's CSV with one cell of data row `row` replaced."""
    cells = LINES[row].split(",")
    cells[column] = value
    return edit(YEAR, LINES[row] + "\n", ",".join(cells) + "\n")

VARIANTS = {
    "only date and close": "\n".join(f"{line.split(',')[0]},{line.split(',')[4]}" for line in LINES).encode(),
    "short decimals": with_cell(5, 1, ".5"),
    "zero close": with_cell(9, 4, "0"),
    "negative close": with_cell(9, 4, "-3.5"),
    "empty close": with_cell(9, 4, ""),
    "impossible date": with_cell(3, 0, "2024-02-30"),
    "year out of range": with_cell(3, 0, "2299-01-02"),
    "duplicate date": with_cell(3, 0, LINES[2].split(",")[0]),
    "unsorted": with_cell(3, 0, LINES[200].split(",")[0]),
    "blank line": edit(YEAR, LINES[4] + "\n", LINES[4] + "\n\n"),
    "ragged row": edit(YEAR, LINES[4] + "\n", LINES[4] + ",1\n"),
    "missing close column": edit(YEAR, ",Close,", ",Last,"),
    "duplicate column": edit(YEAR, ",Open,", ",Close,"),
    "semicolons": YEAR.replace(",", ";").encode(),
    "old Mac line ends": YEAR.replace("\n", "\r").encode(),
    "exponent": with_cell(9, 4, "1.2e3"),
    "trailing point": with_cell(6, 2, "7."),
    "one row": "\n".join(LINES[:2]).encode(),
}


@pytest.mark.parametrize("name", VARIANTS)
def test_any_variant_answers_as_the_careful_parser(name):
    data = VARIANTS[name]
    got, expected = outcome(parse_price_csv, data), outcome(careful_parse, data)
    if isinstance(expected, tuple):
        assert got == expected
    else:
        pd.testing.assert_frame_equal(got, expected, check_exact=True)


def test_the_fast_path_declines_what_it_cannot_vouch_for():
    assert fast(VARIANTS["short decimals"]) is not None and fast(VARIANTS["only date and close"]) is not None
    for name in ("zero close", "impossible date", "duplicate date", "unsorted", "blank line", "ragged row",
                 "missing close column", "semicolons", "exponent"):
        assert fast(VARIANTS[name]) is None, name
