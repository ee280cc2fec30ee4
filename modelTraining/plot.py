"""The evaluation picture next to the card: test-set one-step forecasts vs actual vs naive."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: training runs on servers and in CI
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def plot_test_forecasts(path: Path, dates: pd.DatetimeIndex, series: dict, bands: dict, title: str,
                        fit_info: dict, last: int = 250) -> Path:
    """Actual, LSTM and naive one-step forecasts with the LSTM's 80% band over the last `last` test days,
    and the training and validation loss per epoch with the kept (best) epoch marked."""
    keep = slice(-min(last, len(dates)), None)
    x = dates[keep]
    fig = plt.figure(figsize=(12, 10))
    grid = fig.add_gridspec(3, 1, height_ratios=[3, 1, 1.4])
    top = fig.add_subplot(grid[0])
    bottom = fig.add_subplot(grid[1], sharex=top)
    _plot_losses(fig.add_subplot(grid[2]), fit_info)
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
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _plot_losses(axis, fit_info: dict) -> None:
    """Loss curves: a best epoch of 1 or 2 would show a network stopped before it learnt anything.

    Each curve is divided by its first epoch's value: daily returns are mostly noise, so the losses move by
    tenths of a percent, invisible on their own scales (validation covers a calmer period than training).
    """
    train, val = np.asarray(fit_info["loss_curve"]), np.asarray(fit_info["val_loss_curve"])
    epochs = np.arange(1, len(train) + 1)
    axis.plot(epochs, train / train[0], color="tab:blue", lw=1.2, label=f"training loss (epoch 1: {train[0]:.4f})")
    axis.plot(epochs, val / val[0], color="tab:red", lw=1.2, label=f"validation loss (epoch 1: {val[0]:.4f})")
    axis.axvline(fit_info["best_epoch"], color="grey", ls=":", label=f"best epoch {fit_info['best_epoch']} (kept)")
    axis.set_xlabel("epoch")
    axis.set_ylabel("loss / epoch-1 loss")
    axis.legend(loc="upper right", fontsize=8)
    axis.grid(alpha=0.3)
