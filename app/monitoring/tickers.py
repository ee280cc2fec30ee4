"""Ticker symbols: where a forecast's ticker comes from, and which symbols are acceptable."""
from __future__ import annotations

import re

from app.errors import InvalidInput

UNKNOWN_TICKER = "UNKNOWN"
MAX_TICKER_LENGTH = 15
# Yahoo-style symbols: PETR4.SA, ^GSPC, BRK-B, EURUSD=X.
_TICKER_RE = re.compile(rf"[A-Z0-9.^=-]{{1,{MAX_TICKER_LENGTH}}}")
_FILENAME_RE = re.compile(r"(?P<symbol>.+)_data\.csv", re.IGNORECASE)


def is_valid_ticker(symbol: str) -> bool:
    """True when symbol (already upper-case) is an acceptable ticker."""
    return bool(_TICKER_RE.fullmatch(symbol))


def normalise_ticker(field: str | None, filename: str | None = None) -> str:
    """Ticker from the form/JSON field, else from a `<SYMBOL>_data.csv` file name, else "UNKNOWN".

    An explicit field that is not a valid symbol is the user's mistake and raises InvalidInput; a file
    name that does not yield a valid symbol just falls back to "UNKNOWN" (nobody chose it as a ticker).
    """
    if field is not None and str(field).strip():
        symbol = str(field).strip().upper()
        if not is_valid_ticker(symbol):
            shown = symbol if len(symbol) <= 40 else symbol[:40] + "..."
            raise InvalidInput(
                "invalid_ticker",
                f"ticker {shown!r} is not a valid symbol: use 1 to {MAX_TICKER_LENGTH} characters among "
                "A-Z, 0-9 and . ^ = - (for example PETR4.SA, ^GSPC, BRK-B)",
            )
        return symbol
    if filename:
        # Browsers may send a full client-side path (C:\fakepath\x.csv); keep the base name only.
        base = re.split(r"[\\/]", str(filename))[-1]
        match = _FILENAME_RE.fullmatch(base)
        if match:
            symbol = match.group("symbol").strip().upper()
            if is_valid_ticker(symbol):
                return symbol
    return UNKNOWN_TICKER
