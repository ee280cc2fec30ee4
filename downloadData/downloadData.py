"""Download daily price history with yfinance and save it as <SYMBOL>_data.csv."""
from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import re
import sys
import tempfile
import warnings
from pathlib import Path

import pandas as pd

DEFAULT_OUT = Path(__file__).resolve().parent / "data"
DEFAULT_TICKERS = ("^GSPC", "MSFT")  # the histories shipped in downloadData/data
PRICE_COLUMNS = ["Open", "High", "Low", "Close", "Adj Close", "Volume"]
REQUIRED_COLUMNS = ["Open", "High", "Low", "Close", "Volume"]


# Phrases yfinance uses when the ticker itself has no data (as opposed to network or rate-limit trouble).
_NO_DATA_PHRASES = ("delisted", "no price data", "no timezone", "not found", "no data found")


class DownloadError(Exception):
    """The data source gave no usable prices; `unknown_ticker` is False for network/rate-limit failures."""

    def __init__(self, message: str, unknown_ticker: bool = False):
        super().__init__(message)
        self.unknown_ticker = unknown_ticker


def download_raw(symbol: str, start: str | None, end: str | None) -> pd.DataFrame:
    """The one function that touches the network: yfinance's frame, exactly as yfinance returns it."""
    import yfinance as yf  # imported lazily: the API imports this module without downloading

    # yfinance swallows download failures and only logs them; capture the log to report the real cause.
    captured = _ErrorCapture()
    yf_logger = logging.getLogger("yfinance")
    yf_logger.addHandler(captured)
    try:
        with warnings.catch_warnings():  # yfinance's own pandas deprecation noise is not the user's business
            warnings.simplefilter("ignore")
            frame = yf.download(symbol, start=start, end=end, auto_adjust=False, actions=False,
                                progress=False, threads=False)
    except Exception as exc:  # yfinance raises a zoo of requests/curl errors; all mean "no data"
        raise DownloadError(f"{symbol}: cannot reach Yahoo Finance ({type(exc).__name__}: {exc}); "
                            "check the network connection") from None
    finally:
        yf_logger.removeHandler(captured)
    if (frame is None or frame.empty) and captured.messages:
        cause = re.sub(r"^\[.*?\]:\s*", "", captured.messages[-1])  # drop yfinance's "['SYM']: " prefix
        if any(phrase in cause.lower() for phrase in _NO_DATA_PHRASES):
            raise DownloadError(f"{symbol}: no price data, unknown or delisted ticker ({cause})", unknown_ticker=True)
        raise DownloadError(f"{symbol}: cannot reach Yahoo Finance ({cause}); check the network connection")
    return frame if frame is not None else pd.DataFrame()


class _ErrorCapture(logging.Handler):
    """Keeps the messages yfinance logs at ERROR level during one download."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage().strip()
        if message and "Failed download" not in message:
            self.messages.append(message.splitlines()[-1])


def normalise_frame(raw: pd.DataFrame, symbol: str) -> pd.DataFrame:
    """Turn a yfinance frame (flat or (Price, Ticker) MultiIndex, tz-aware or not) into a clean price frame."""
    frame = raw.copy()
    if isinstance(frame.columns, pd.MultiIndex):
        frame = _select_ticker(frame, symbol)
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise DownloadError(f"{symbol}: source data lacks columns {missing}")
    frame = frame[[c for c in PRICE_COLUMNS if c in frame.columns]]
    index = pd.DatetimeIndex(pd.to_datetime(frame.index))
    if index.tz is not None:
        index = index.tz_localize(None)  # keep the exchange's calendar date, drop the zone
    frame.index = index.normalize()
    frame.index.name = "Date"
    # yfinance pads multi-ticker downloads and holidays with NaN rows; a close is what we need.
    frame = frame.apply(pd.to_numeric, errors="coerce").dropna(subset=["Close"])
    frame = frame[~frame.index.duplicated(keep="last")].sort_index()
    if frame.empty:
        raise DownloadError(f"{symbol}: no price data (unknown or delisted ticker, or empty date range)",
                            unknown_ticker=True)
    return frame


def _select_ticker(frame: pd.DataFrame, symbol: str) -> pd.DataFrame:
    """Pick one ticker's columns from yfinance's (Price, Ticker) or (Ticker, Price) MultiIndex."""
    for level in range(frame.columns.nlevels):
        values = frame.columns.get_level_values(level)
        if symbol.upper() in {str(v).upper() for v in values}:
            match = [v for v in values.unique() if str(v).upper() == symbol.upper()][0]
            return frame.xs(match, axis=1, level=level)
    tickers = frame.columns.get_level_values(-1).unique()
    if len(tickers) == 1:  # a single-ticker frame whose label differs in spelling
        return frame.droplevel(-1, axis=1)
    raise DownloadError(f"{symbol}: not among the downloaded tickers {list(tickers)}")


def fetch_prices(symbol: str, start: str | None = None, end: str | None = None) -> pd.DataFrame:
    """Daily prices for one ticker: Date index, columns Open,High,Low,Close[,Adj Close],Volume."""
    return normalise_frame(download_raw(symbol, start, end), symbol)


def csv_name(symbol: str) -> str:
    """File name for a ticker: '^GSPC' -> 'GSPC_data.csv' (keeps letters, digits, '.', '-')."""
    clean = re.sub(r"[^A-Za-z0-9.\-]", "", symbol).strip(".")
    if not clean:
        raise DownloadError(f"ticker {symbol!r} has no usable characters for a file name")
    return f"{clean.upper()}_data.csv"


def save_csv(frame: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write the frame atomically: a temporary file in the same folder, then os.replace."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", newline="") as handle:
            frame.to_csv(handle, index_label="Date", date_format="%Y-%m-%d")
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path


def _iso_date(text: str) -> str:
    """argparse type: a YYYY-MM-DD date."""
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a YYYY-MM-DD date: {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    """Command-line options of the download script."""
    parser = argparse.ArgumentParser(
        prog="python -m downloadData.downloadData",
        description="Download daily OHLCV history from Yahoo Finance (yfinance) into <SYMBOL>_data.csv.")
    parser.add_argument("--ticker", action="append", metavar="SYMBOL",
                        help="Yahoo ticker, e.g. PETR4.SA, MSFT or ^GSPC; repeat for several tickers "
                             f"(default: {' '.join(DEFAULT_TICKERS)})")
    parser.add_argument("--start", type=_iso_date, default="2015-01-01",
                        help="first date, inclusive (YYYY-MM-DD; default 2015-01-01)")
    parser.add_argument("--end", type=_iso_date, default=None,
                        help="last date, exclusive (YYYY-MM-DD; default: today)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"output folder (default {DEFAULT_OUT})")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Download every --ticker; one stderr line per failure; exit status 1 if any failed."""
    args = build_parser().parse_args(argv)
    if args.end is not None and args.end <= args.start:
        print(f"error: --end {args.end} must be after --start {args.start}", file=sys.stderr)
        return 2
    failures = 0
    for symbol in args.ticker or DEFAULT_TICKERS:
        try:
            frame = fetch_prices(symbol, args.start, args.end)
            path = save_csv(frame, args.out / csv_name(symbol))
        except (DownloadError, OSError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            failures += 1
            continue
        first, last = frame.index[0].date(), frame.index[-1].date()
        print(f"{symbol}: {len(frame)} rows {first}..{last} -> {path}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
