"""Which model version is the champion: promotions are rows in the registry, shared by every worker."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import insert, select

from app.monitoring.registry import ForecastRegistry
from app.monitoring.storage import promotions

MAX_REASON_LENGTH = 500


def current_champion(registry: ForecastRegistry) -> str | None:
    """The version promoted last, or None when no promotion was ever recorded (the store's default serves)."""
    stmt = select(promotions.c.version).order_by(promotions.c.id.desc()).limit(1)
    with registry.engine.connect() as conn:
        return conn.execute(stmt).scalar()


def record_promotion(registry: ForecastRegistry, version: str, previous: str | None, forced: bool = False,
                     reason: str = "") -> None:
    """Make `version` the champion of every worker (they read it within their refresh interval)."""
    row = {"version": version, "previous": previous, "promoted_at": dt.datetime.now(dt.UTC),
           "forced": int(bool(forced)), "reason": (reason or None) and reason[:MAX_REASON_LENGTH]}
    with registry.engine.connect() as conn:
        conn.execution_options(write=True)
        with conn.begin():
            conn.execute(insert(promotions), row)


def promotion_history(registry: ForecastRegistry, limit: int = 20) -> list[dict]:
    """The latest promotions, newest first."""
    stmt = select(promotions).order_by(promotions.c.id.desc()).limit(int(limit))
    with registry.engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(stmt)]
    for row in rows:
        row["forced"] = bool(row["forced"])
        promoted = row["promoted_at"]
        if promoted.tzinfo is None:  # SQLite returns naive datetimes; they are stored in UTC
            promoted = promoted.replace(tzinfo=dt.UTC)
        row["promoted_at"] = promoted.isoformat(timespec="seconds")
    return rows
