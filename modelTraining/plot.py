"""The evaluation picture next to the card: test-set one-step forecasts vs actual vs naive."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: training runs on servers and in CI
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def plot_test_forecasts(path: Path, dates: pd.DatetimeIndex, series: dict, bands: dict, title: str,
                        last: int = 250) -> Path:
    """Actual, LSTM and naive one-step forecasts with the LSTM's 80% band over the last `last` test days."""
    keep = slice(-min(last, len(dates)), None)
    x = dates[keep]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(12, 7), sharex=True, height_ratios=[3, 1])
    top.fill_between(x, bands["lower_80"][keep], bands["upper_80"][keep], color="tab:blue", alpha=0.15,
                     label="LSTM 80% interval")
    top.plot(x, series["actual"][keep], color="black", lw=1.4, label="actual close")
    top.plot(x, series["predicted"][keep], color="tab:blue", lw=1.0, label="LSTM one-step forecast")
    top.plot(x, series["naive"][keep], color="tab:orange", lw=1.0, ls="--", label="naive (yesterday's close)")
    top.set_ylabel("close")
    top.set_title(title)
    top.legend(loc="best", fontsize=8)
    top.grid(alpha=0.3)
    lstm_err = np.abs(series["predicted"][keep] - series["actual"][keep])
    naive_err = np.abs(series["naive"][keep] - series["actual"][keep])
    bottom.plot(x, lstm_err, color="tab:blue", lw=0.8, label="|LSTM error|")
    bottom.plot(x, naive_err, color="tab:orange", lw=0.8, ls="--", label="|naive error|")
    bottom.set_ylabel("absolute error")
    bottom.legend(loc="upper left", fontsize=8)
    bottom.grid(alpha=0.3)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
