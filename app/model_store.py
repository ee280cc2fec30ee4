"""The model store: every trained artifact is a version in its own folder, and a version is never overwritten.

Layout (MODEL_STORE, default app/models):

    store.json            {"default_champion": VERSION, "retired": [VERSION, ...]}
    VERSION/model.json    the card; its "version" names the folder
    VERSION/preprocessing.json, VERSION/model_lstm.keras, VERSION/test_forecast.png
    VERSION/training_returns.npy   the daily log returns the model was trained on (the drift watch's reference)

The default champion serves until a promotion is recorded in the forecast registry (app/monitoring/promotions.py);
every other version that is not retired shadows it as a challenger.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np

from app.forecasting import log_returns
from app.predictor import CARD_FILE, ModelLoadError, Predictor

MANIFEST_FILE = "store.json"
REFERENCE_FILE = "training_returns.npy"
VERSION_RE = re.compile(r"[A-Za-z0-9._:-]{1,64}")  # the card's version: a folder name, a URL part, a label


class StoreError(Exception):
    """The store cannot do what was asked (a version exists already, an artifact is unusable); in plain words."""


class ModelStore:
    """The versions under `root`, the default champion and the retired list."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def versions(self) -> list[str]:
        """Every stored version, oldest first (card versions start with their UTC training time)."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / CARD_FILE).is_file() and VERSION_RE.fullmatch(p.name))

    def manifest(self) -> dict:
        path = self.root / MANIFEST_FILE
        if not path.is_file():
            return {}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"model store manifest {path} is not valid JSON: {exc}") from exc
        return data if isinstance(data, dict) else {}

    def default_champion(self) -> str:
        """The champion when no promotion was recorded: the manifest's, else the only version."""
        named = self.manifest().get("default_champion")
        versions = self.versions()
        if named:
            if named not in versions:
                raise ModelLoadError(f"the model store {self.root} has no version {named!r} "
                                     f"(its {MANIFEST_FILE} names it as the default champion)")
            return named
        if len(versions) == 1:
            return versions[0]
        raise ModelLoadError(f"model store {self.root} holds {len(versions)} versions and its {MANIFEST_FILE} "
                             "names no default_champion")

    def default_champion_path(self) -> Path:
        """The folder of the default champion (what a fresh server serves before any promotion)."""
        return self.path(self.default_champion())

    def serving_versions(self) -> list[str]:
        """The versions a server loads: all but the retired ones."""
        retired = set(self.manifest().get("retired", []))
        return [v for v in self.versions() if v not in retired]

    def path(self, version: str) -> Path:
        """The folder of a stored version (ModelLoadError for an unknown one: never a path built from input)."""
        if version not in self.versions():
            raise ModelLoadError(f"the model store {self.root} has no version {version!r}")
        return self.root / version

    def load(self, version: str) -> Predictor:
        """The version's predictor; its card must carry the folder's name as its version."""
        predictor = Predictor.load(self.path(version))
        if predictor.version != version:
            raise ModelLoadError(f"{self.root / version / CARD_FILE} says version {predictor.version!r}; a stored "
                                 "version's folder carries its card's version")
        return predictor

    def training_returns(self, version: str) -> np.ndarray | None:
        """The returns the version was trained on, or None when the store has none for it."""
        path = self.path(version) / REFERENCE_FILE
        return np.load(path, allow_pickle=False) if path.is_file() else None

    def add(self, artifact: str | Path, training_csv: str | Path | None = None) -> str:
        """Copy a trained artifact folder into the store under its card's version; returns the version.

        With `training_csv` (the CSV it was trained on) the training returns are kept for the drift watch.
        """
        artifact = Path(artifact)
        try:
            version = str(Predictor.load(artifact).version)
        except ModelLoadError as exc:
            raise StoreError(f"{artifact} is not a usable model artifact: {exc}") from exc
        if not VERSION_RE.fullmatch(version):
            raise StoreError(f"version {version!r} must be 1 to 64 characters among A-Z a-z 0-9 . _ : -")
        target = self.root / version
        if target.exists():
            raise StoreError(f"version {version} is already in the store ({target}); a version is never overwritten")
        self.root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".adding-", dir=self.root))
        try:
            for item in artifact.iterdir():
                if item.is_file():
                    shutil.copy2(item, staging / item.name)
            if training_csv is not None:
                np.save(staging / REFERENCE_FILE, training_returns_from_csv(artifact / CARD_FILE, training_csv))
            staging.chmod(0o755)  # mkdtemp makes it private; a version is read by the server user
            os.rename(staging, target)  # atomic: a reader sees the whole version or none of it
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return version

    def set_default_champion(self, version: str) -> None:
        """Name the champion a fresh registry starts with (the repository's choice, not a promotion)."""
        self.path(version)
        manifest = {**self.manifest(), "default_champion": version}
        (self.root / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def training_returns_from_csv(card_path: Path, csv: str | Path) -> np.ndarray:
    """The daily log returns of the training part the card describes, read from the CSV it was trained on."""
    from app.csv_input import parse_price_csv  # pandas parsing only when a version is added

    card = json.loads(Path(card_path).read_text(encoding="utf-8"))
    train = card["data"]["splits"]["train"]
    closes = parse_price_csv(Path(csv).read_bytes())["close"]
    closes = closes[(closes.index >= train["start"]) & (closes.index <= train["end"])]
    if len(closes) != int(train["rows"]):
        raise StoreError(f"{csv} holds {len(closes)} closes from {train['start']} to {train['end']}, the card "
                         f"says the model trained on {train['rows']}: is it the CSV this model was trained on?")
    return log_returns(closes.to_numpy())
