"""Load a price CSV (with the API's parser) and split it chronologically into train / validation / test targets."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from app.csv_input import parse_price_csv
from app.forecasting import min_history


def load_closes(csv_path: str | Path, start: str | None = None, end: str | None = None,
                last_years: float | None = None) -> pd.Series:
    """Close prices indexed by date (ascending), optionally cut to [start, end] or to the last N years.

    The file goes through the API's parser, so training accepts and refuses the same files as /predict, with
    the same messages (InvalidInput); nothing is coerced or dropped silently.
    """
    closes = parse_price_csv(Path(csv_path).read_bytes())["close"].rename("close")
    if start:
        closes = closes[closes.index >= pd.Timestamp(start)]
    if end:
        closes = closes[closes.index <= pd.Timestamp(end)]
    if last_years:
        closes = closes[closes.index > closes.index[-1] - pd.DateOffset(days=round(365.25 * last_years))]
    return closes


@dataclass(frozen=True)
class Split:
    """Chronological split in return-index space: target returns r[window:train_end] train,
    r[train_end:val_end] validate and r[val_end:n_returns] test. Inputs may reach back into
    earlier parts (they are known history), targets never cross a boundary."""

    window: int
    train_end: int
    val_end: int
    n_returns: int

    @classmethod
    def chronological(cls, n_closes: int, window: int, volatility_window: int,
                      train_fraction: float = 0.70, val_fraction: float = 0.15,
                      min_targets: int = 30) -> Split:
        """Fractions of the returns for train and validation; the rest is test."""
        n_returns = n_closes - 1
        train_end = int(round(n_returns * train_fraction))
        val_end = int(round(n_returns * (train_fraction + val_fraction)))
        split = cls(window, train_end, val_end, n_returns)
        first_origin = min_history(window, volatility_window) - 1
        sizes = {"train": train_end - first_origin, "validation": val_end - train_end,
                 "test": n_returns - val_end}
        small = {k: v for k, v in sizes.items() if v < min_targets}
        if small:
            raise ValueError(f"{n_closes} closes with window {window} leave too few targets {small}; "
                             f"need at least {min_targets} per part (use more data or a smaller window)")
        return split

    def origins(self, part: str) -> np.ndarray:
        """Forecast origins whose one-step target lies in the part ('train', 'validation', 'test')."""
        start, stop = {"train": (self.window, self.train_end), "validation": (self.train_end, self.val_end),
                       "test": (self.val_end, self.n_returns)}[part]
        return np.arange(start, stop)

    def describe(self, dates: pd.DatetimeIndex) -> dict:
        """Rows and date ranges of each part, in closes (a target return r[j] is the close at j+1)."""
        parts = {"train": (0, self.train_end), "validation": (self.train_end + 1, self.val_end),
                 "test": (self.val_end + 1, self.n_returns)}
        return {name: {"rows": stop - start + 1, "start": str(dates[start].date()), "end": str(dates[stop].date())}
                for name, (start, stop) in parts.items()}
