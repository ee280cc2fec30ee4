"""The models a worker serves: one champion answers, the challengers shadow it; promotions reach every worker.

The champion is the version promoted last in the forecast registry (shared by all gunicorn workers and kept
across restarts), else the store's default. Each worker re-reads it at most every REFRESH_SECONDS, at the start
of a request, so a promotion reaches every worker within that time without a restart, and a request uses the
one lineup it started with from start to end.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from app.model_store import ModelStore
from app.predictor import ModelLoadError, Predictor

log = logging.getLogger(__name__)

REFRESH_SECONDS = 1.0
ROLES = ("champion", "challenger")


@dataclass(frozen=True)
class Lineup:
    """What one request uses: the champion that answers and the challengers that shadow it."""

    champion: Predictor
    challengers: tuple[Predictor, ...]


class ModelLineup:
    """Loaded versions, the current champion, and how to learn about promotions made by other workers."""

    def __init__(self, predictors: dict[str, Predictor], champion: str, store: ModelStore | None = None,
                 read_champion: Callable[[], str | None] | None = None):
        if champion not in predictors:
            raise ModelLoadError(f"champion {champion!r} is not loaded")
        self.predictors = dict(predictors)
        self.load_errors: dict[str, str] = {}
        self.store = store
        self._read_champion = read_champion  # the registry's latest promotion; None = never changes
        self._lock = threading.Lock()
        self._checked_at = float("-inf")
        self._read_failing = False
        self._lineup = self._make(champion)
        self.on_switch: list[Callable[[Lineup], None]] = []  # told of each new lineup (metrics labels)

    @classmethod
    def from_store(cls, store: ModelStore, read_champion: Callable[[], str | None] | None = None) -> ModelLineup:
        """Load the default champion (ModelLoadError if it fails) and every serving challenger that loads."""
        champion = store.default_champion()
        predictors, errors = {champion: store.load(champion)}, {}
        for version in store.serving_versions():
            if version not in predictors:
                try:
                    predictors[version] = store.load(version)
                except ModelLoadError as exc:  # a broken challenger must not stop the champion from serving
                    errors[version] = str(exc)
                    log.error("challenger %s not loaded: %s", version, exc)
        lineup = cls(predictors, champion, store, read_champion)
        lineup.load_errors = errors
        return lineup

    def current(self) -> Lineup:
        """The lineup for this request, refreshed from the registry when the last look is older than the interval."""
        if self._read_champion is not None and time.monotonic() - self._checked_at >= REFRESH_SECONDS:
            self._refresh()
        return self._lineup

    @property
    def champion(self) -> Predictor:
        return self.current().champion

    def role(self, version: str) -> str:
        return "champion" if version == self._lineup.champion.version else "challenger"

    def versions(self) -> list[str]:
        return sorted(self.predictors)

    def drift_reference(self):
        """The current champion's training returns (None when the store kept none): the drift watch's baseline."""
        return None if self.store is None else self.store.training_returns(self.current().champion.version)

    def ensure_loaded(self, version: str) -> Predictor:
        """The version's predictor, loading it from the store when it was added after this worker started."""
        predictor = self.predictors.get(version)
        if predictor is None:
            if self.store is None:
                raise ModelLoadError(f"no model version {version!r} is loaded")
            predictor = self.store.load(version)
            with self._lock:
                self.predictors = {**self.predictors, version: predictor}
        return predictor

    def switch_to(self, version: str) -> Lineup:
        """Serve `version` as champion in this worker now (the others follow the registry)."""
        predictor = self.ensure_loaded(version)
        with self._lock:
            self._lineup = self._make(predictor.version)
        for listener in self.on_switch:
            listener(self._lineup)
        return self._lineup

    def _make(self, champion: str) -> Lineup:
        challengers = tuple(p for v, p in sorted(self.predictors.items()) if v != champion)
        return Lineup(self.predictors[champion], challengers)

    def _refresh(self) -> None:
        self._checked_at = time.monotonic()
        try:
            promoted = self._read_champion()
        except Exception as exc:  # noqa: BLE001 - the registry may be down: keep serving the current champion
            if not self._read_failing:  # once per outage, not every second
                log.warning("could not read the current champion, %s keeps serving: %s",
                            self._lineup.champion.version, exc)
            self._read_failing = True
            return
        self._read_failing = False
        if promoted and promoted != self._lineup.champion.version and promoted not in self.load_errors:
            try:
                self.switch_to(promoted)
            except ModelLoadError as exc:
                self.load_errors[promoted] = str(exc)  # tried once per process, not every second
                log.error("promoted version %s cannot serve here, %s stays champion: %s", promoted,
                          self._lineup.champion.version, exc)
                return
            log.info("champion is now %s", promoted)
