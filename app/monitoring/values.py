"""Values the registry stores, made comparable: dates from any form, a fingerprint of the input closes, and
the close column of an upload as a clean series."""
from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable

import numpy as np
import pandas as pd


def as_date(value) -> dt.date:
    """A date from a date, datetime, pandas Timestamp or ISO string."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return pd.Timestamp(value).date()


def input_fingerprint(closes: Iterable[float], last_date=None) -> str:
    """Stable hash of the closes a forecast was computed from (the same input gives the same hash)."""
    digest = hashlib.sha256(np.ascontiguousarray(np.asarray(closes, dtype=np.float64)).tobytes())
    if last_date is not None:
        digest.update(as_date(last_date).isoformat().encode())
    return digest.hexdigest()[:32]


def closes_series(frame_or_series) -> pd.Series:
    """The close column of a parsed price frame (or a Series) as a float Series by ascending unique date."""
    series = frame_or_series["close"] if isinstance(frame_or_series, pd.DataFrame) else pd.Series(frame_or_series)
    values = np.asarray(series.to_numpy(), dtype=np.float64)
    index = series.index
    # Fast path (taken on every /predict): the CSV parser already gives ascending, unique, midnight dates.
    if not (isinstance(index, pd.DatetimeIndex) and index.tz is None and index.is_monotonic_increasing
            and index.is_unique and index.is_normalized):
        index = pd.DatetimeIndex(index)
        if index.tz is not None:
            index = index.tz_localize(None)  # keep the exchange's calendar date
        clean = pd.Series(values, index=index.normalize())
        clean = clean[~clean.index.duplicated(keep="last")].sort_index()
        index, values = clean.index, clean.to_numpy()
    known = ~np.isnan(values)
    return pd.Series(values[known], index=index[known], name="close")
