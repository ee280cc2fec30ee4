"""A Yahoo Finance stand-in for test servers: the shipped S&P 500 closes, re-dated to end on a chosen day."""
import datetime as dt
import os

import pandas as pd

from downloadData.downloadData import DEFAULT_OUT, DownloadError

SHIPPED_CSV = DEFAULT_OUT / "GSPC_data.csv"  # the server imports this module: no pytest fixtures here
ROWS = 400


def prices_until(market_day) -> pd.DataFrame:
    """yfinance's daily frame (Date index; Open, High, Low, Close, Adj Close, Volume) ending on market_day."""
    frame = pd.read_csv(SHIPPED_CSV).tail(ROWS)
    frame.index = pd.bdate_range(end=pd.Timestamp(market_day), periods=len(frame), name="Date")
    return frame.drop(columns="Date")


def closes_on(market_day) -> dict[dt.date, float]:
    """The closes the stand-in serves while market_day is the latest session, by date."""
    return {day.date(): float(close) for day, close in prices_until(market_day)["Close"].items()}


def download_raw(symbol, start, end):
    """downloadData's network function, answering from the file $MARKET_DAY_FILE: a date, or "offline"."""
    with open(os.environ["MARKET_DAY_FILE"]) as handle:
        market_day = handle.read().strip()
    if market_day == "offline":
        raise DownloadError(f"{symbol}: cannot reach Yahoo Finance (DNSError: could not resolve host); "
                            "check the network connection")
    frame = prices_until(market_day)
    if start is not None:
        frame = frame[frame.index >= pd.Timestamp(start)]
    if end is not None:  # yfinance's end is exclusive
        frame = frame[frame.index < pd.Timestamp(end)]
    return frame
