"""Production forecast monitoring: registry, validation against realised closes, performance report."""
from __future__ import annotations

import logging
import os
import time

from app.monitoring.registry import ForecastRegistry
from app.monitoring.storage import sqlite_url

log = logging.getLogger(__name__)

REGISTRY_FILENAME = "forecasts.sqlite3"
# A worker whose database could not be opened (locked, read-only) retries this often instead of dying.
RETRY_SECONDS = 30.0

__all__ = ["ForecastRegistry", "RegistryHandle", "init_app", "registry_url"]


def registry_url(config, instance_path: str) -> str:
    """DATABASE_URL when set, else a SQLite file at REGISTRY_PATH or <instance folder>/forecasts.sqlite3."""
    url = (config.get("DATABASE_URL") or "").strip()
    if url:
        return url
    path = (config.get("REGISTRY_PATH") or "").strip() or os.path.join(instance_path, REGISTRY_FILENAME)
    return sqlite_url(path)


class RegistryHandle:
    """The app's forecast registry, opened at start-up and reopened (at most every RETRY_SECONDS) after a failure.

    A bad path, a lock or an unreachable server must not crash-loop the workers: forecasts are answered
    unregistered meanwhile and /ready says why.
    """

    def __init__(self, config, instance_path: str, metrics=None):
        self._config = config
        self._instance_path = instance_path
        self._metrics = metrics  # started from the database on each successful open
        self._registry: ForecastRegistry | None = None
        self._opened_at = float("-inf")  # never tried: the first get() opens
        self.open_error: str | None = None

    def get(self) -> ForecastRegistry | None:
        """The open registry, or None while it cannot be opened."""
        if self._registry is None and time.monotonic() - self._opened_at >= RETRY_SECONDS:
            self._open()
        return self._registry

    def problem(self) -> str | None:
        """Why the registry is unusable (open failure, or a failed write that a probe confirms), or None."""
        registry = self.get()
        if registry is None:
            return self.open_error or "forecast registry not initialised"
        return registry.recheck()

    def detach(self) -> None:
        """Run without a registry (benchmarks measure the forecast path alone); no reopening."""
        self.close()
        self._opened_at = float("inf")

    def close(self) -> None:
        """Dispose of the open registry (engine pool, checkpoint thread); the next get() opens it again."""
        if self._registry is not None:
            self._registry.dispose()
            self._registry = None
        self._opened_at = float("-inf")

    @property
    def is_open(self) -> bool:
        return self._registry is not None

    def location(self) -> str:
        """Where the registry lives, without credentials."""
        url = (self._config.get("DATABASE_URL") or "").strip()
        if url:
            from sqlalchemy.engine import make_url

            try:
                return make_url(url).render_as_string(hide_password=True)
            except Exception:  # noqa: BLE001 - an unparsable URL is reported by the caller
                return "DATABASE_URL (unparsable)"
        return ((self._config.get("REGISTRY_PATH") or "").strip()
                or os.path.join(self._instance_path, REGISTRY_FILENAME))

    def _open(self) -> None:
        self._opened_at = time.monotonic()
        try:
            registry = ForecastRegistry(registry_url(self._config, self._instance_path))
        except Exception as exc:  # noqa: BLE001 - see the class docstring
            self.open_error = (f"cannot open the forecast registry ({self.location()}): "
                               f"{type(exc).__name__}: {_first_line(exc)}")
            log.error("%s; forecasts are not registered until it opens", self.open_error)
            return
        self._registry, self.open_error = registry, None
        log.info("forecast registry at %s", self.location())
        self._publish_state(registry)

    def _publish_state(self, registry: ForecastRegistry) -> None:
        """Start the pending and last-validation gauges from the database rather than at 0 (so a restart does not
        look like a validator that stopped)."""
        if self._metrics is None:
            return
        try:
            pending = registry.counts()["pending"]
            last_validated = registry.last_validated_at()
        except Exception as exc:  # noqa: BLE001 - the gauges are refreshed by the next validation anyway
            log.warning("could not count pending forecasts: %s", _first_line(exc))
            return
        self._metrics.publish_registry_state(pending, None if last_validated is None else last_validated.timestamp())


def init_app(app, metrics=None) -> RegistryHandle:
    """Open the app's registry (its metrics start from the database) and add the `flask monitoring` commands."""
    from app.monitoring.cli import monitoring_cli

    handle = RegistryHandle(app.config, app.instance_path, metrics)
    handle.get()
    app.cli.add_command(monitoring_cli)

    @app.teardown_appcontext
    def _close_after_command(_exc):
        # Requests share the registry's connection pool for the life of the process; a command's app
        # context is the whole command, so the registry it used is closed when the command ends.
        from flask import g

        if g.pop("close_registry", False):
            handle.close()

    return handle


def _first_line(exc: Exception) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else ""
