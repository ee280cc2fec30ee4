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

__all__ = ["ForecastRegistry", "init_app", "get_registry", "registry_error", "registry_url"]


def registry_url(config, instance_path: str) -> str:
    """DATABASE_URL when set, else a SQLite file at REGISTRY_PATH or <instance folder>/forecasts.sqlite3."""
    url = (config.get("DATABASE_URL") or "").strip()
    if url:
        return url
    path = (config.get("REGISTRY_PATH") or "").strip() or os.path.join(instance_path, REGISTRY_FILENAME)
    return sqlite_url(path)


def init_app(app) -> ForecastRegistry | None:
    """Open the registry (creating its schema) into app.extensions; on failure keep the reason for /ready."""
    app.extensions["forecast_registry"] = None
    app.extensions["registry_error"] = None
    return _open(app)


def _open(app) -> ForecastRegistry | None:
    app.extensions["registry_opened_at"] = time.monotonic()
    try:
        url = registry_url(app.config, app.instance_path)
        registry = ForecastRegistry(url)
    except Exception as exc:  # noqa: BLE001 - a bad path, lock or server must not crash-loop the workers
        reason = f"cannot open the forecast registry ({_where(app)}): {type(exc).__name__}: {_first_line(exc)}"
        log.error("%s; forecasts are not registered until it opens", reason)
        app.extensions["registry_error"] = reason
        return None
    app.extensions["forecast_registry"] = registry
    app.extensions["registry_error"] = None
    log.info("forecast registry at %s", _where(app))
    _publish_pending(app, registry)
    return registry


def _publish_pending(app, registry: ForecastRegistry) -> None:
    """Start the pending and last-validation gauges from the database rather than at 0 (so a restart does not
    look like a validator that stopped)."""
    from app import metrics

    if metrics.EXTENSION_KEY not in app.extensions:
        return
    try:
        pending = registry.counts()["pending"]
        last_validated = registry.last_validated_at()
    except Exception as exc:  # noqa: BLE001 - the gauge is refreshed by the next validation anyway
        log.warning("could not count pending forecasts: %s", _first_line(exc))
        return
    with app.app_context():
        metrics.set_pending(pending)
        if last_validated is not None:
            metrics.set_last_validation(last_validated.timestamp())


def get_registry(app) -> ForecastRegistry | None:
    """The app's registry, retrying a failed open at most every RETRY_SECONDS."""
    registry = app.extensions.get("forecast_registry")
    if registry is None and time.monotonic() - app.extensions.get("registry_opened_at", 0.0) >= RETRY_SECONDS:
        registry = _open(app)
    return registry


def registry_error(app) -> str | None:
    """Why the registry is unusable (open failure, or a failed write that a probe confirms), or None."""
    registry = get_registry(app)
    if registry is None:
        return app.extensions.get("registry_error") or "forecast registry not initialised"
    return registry.recheck()


def _where(app) -> str:
    """Where the registry lives, without credentials."""
    url = (app.config.get("DATABASE_URL") or "").strip()
    if url:
        from sqlalchemy.engine import make_url

        try:
            return make_url(url).render_as_string(hide_password=True)
        except Exception:  # noqa: BLE001 - an unparsable URL is reported by the caller
            return "DATABASE_URL (unparsable)"
    return (app.config.get("REGISTRY_PATH") or "").strip() or os.path.join(app.instance_path, REGISTRY_FILENAME)


def _first_line(exc: Exception) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else ""
