"""A tiny, fast training run (600 real rows, window 20, 2 epochs) shared by the ML tests."""
from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
GSPC_CSV = ROOT / "downloadData" / "data" / "GSPC_data.csv"
TINY = dict(window=20, units=8, epochs=2, batch_size=32, patience=2, seed=7)


def tiny_csv(folder: Path, rows: int = 600, name: str = "TINY_data.csv", edit=None) -> Path:
    """The last `rows` days of the shipped S&P 500 history, optionally edited, as a CSV file."""
    frame = pd.read_csv(GSPC_CSV).tail(rows).reset_index(drop=True)
    if edit is not None:
        frame = edit(frame)
    path = Path(folder) / name
    frame.to_csv(path, index=False)
    return path


def train_tiny(csv: Path, out: Path, **overrides) -> dict:
    """Run the real training pipeline with tiny settings; returns the card."""
    from modelTraining.train_lstm import TrainConfig, train

    return train(TrainConfig(csv=str(csv), out=str(out), **{**TINY, **overrides}))


@functools.lru_cache(maxsize=1)
def shared_tiny_artifact() -> Path:
    """One tiny artifact per test session (training takes seconds; several test files read it)."""
    folder = Path(tempfile.mkdtemp(prefix="tiny-model-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    train_tiny(tiny_csv(folder), folder / "model")
    return folder / "model"
