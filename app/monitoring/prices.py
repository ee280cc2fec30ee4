"""Where realised closes come from: uploaded CSVs (offline) and yfinance, tried in that order."""
from __future__ import annotations

import datetime as dt
import logging

import pandas as pd

from app.monitoring.registry import ForecastRegistry, closes_series

log = logging.getLogger(__name__)


class PriceSourceError(Exception):
    """A price source could not answer (no network, unknown ticker); its forecasts stay pending."""


class UploadedActualsSource:
    """Closes stored from CSVs uploaded to /predict or POST /monitoring/actuals."""

    name = "uploaded"

    def __init__(self, registry: ForecastRegistry):
        self.registry = registry

    def closes(self, ticker: str, start: dt.date, end: dt.date) -> pd.Series:
        """Stored closes of ticker from start to end inclusive."""
        return self.registry.actual_closes(ticker, start, end)


class YFinanceSource:
    """Closes from Yahoo Finance through downloadData's fetch_prices (the one function that calls yfinance)."""

    name = "yfinance"

    def __init__(self, fetch=None):
        self._fetch = fetch  # substituted in tests; resolved lazily so yfinance is imported only when used

    def closes(self, ticker: str, start: dt.date, end: dt.date) -> pd.Series:
        """Daily closes of ticker from start to end inclusive; raises PriceSourceError when unavailable."""
        fetch = self._fetch
        if fetch is None:
            from downloadData.downloadData import fetch_prices as fetch
        try:
            # yfinance treats `end` as exclusive.
            frame = fetch(ticker, start=start.isoformat(), end=(end + dt.timedelta(days=1)).isoformat())
        except Exception as exc:  # noqa: BLE001 - any download failure leaves the forecasts pending
            raise PriceSourceError(f"{type(exc).__name__}: {exc}") from None
        column = next((c for c in frame.columns if str(c).lower() == "close"), None)
        if column is None:
            raise PriceSourceError(f"no Close column in the downloaded data for {ticker}")
        series = closes_series(frame[column].rename("close"))
        return series[(series.index >= pd.Timestamp(start)) & (series.index <= pd.Timestamp(end))]


class ChainSource:
    """Several sources tried in order; a forecast the first cannot validate is asked of the next."""

    name = "chain"

    def __init__(self, *sources):
        self.sources = list(sources)


def default_price_source(registry: ForecastRegistry, online: bool = True):
    """Uploaded actuals first (offline, free), then yfinance when online."""
    uploaded = UploadedActualsSource(registry)
    return ChainSource(uploaded, YFinanceSource()) if online else uploaded
