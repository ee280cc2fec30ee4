"""Retention of the forecast registry: raw forecasts are kept RETENTION_DAYS days after their target date.

The roll-ups (per day, per horizon step, per day and horizon step) and the per-ticker counts are kept forever,
so the performance report's figures do not change when old forecasts are pruned, over any period; only the list
of recent forecasts reads raw rows.
A pending forecast older than the retention window is pruned too (it leaves the pending count): validation
looks back days, not a year. `flask --app app monitoring prune` applies the policy (docs/performance.md).
"""
from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import delete, select

from app.monitoring import rollups
from app.monitoring.registry import STATUSES, ForecastRegistry, as_date
from app.monitoring.storage import forecasts

# Rows deleted per transaction: each commit is short, so forecasts are registered while a large prune runs.
PRUNE_BATCH = 10_000


@dataclass(frozen=True)
class PruneResult:
    """What one prune did: forecasts deleted, and the first target date still kept."""

    deleted: int
    kept_from: dt.date

    def summary(self) -> str:
        return f"pruned {self.deleted} forecasts with a target date before {self.kept_from.isoformat()}"


def retention_cutoff(keep_days: int, today=None) -> dt.date:
    """The oldest target date kept when raw forecasts are kept `keep_days` days."""
    if isinstance(keep_days, bool) or not isinstance(keep_days, int) or keep_days < 1:
        raise ValueError(f"keep_days must be a positive whole number of days, got {keep_days!r}")
    today = dt.date.today() if today is None else as_date(today)
    return today - dt.timedelta(days=keep_days)


def prune(registry: ForecastRegistry, keep_days: int, today=None, batch: int = PRUNE_BATCH) -> PruneResult:
    """Delete forecasts whose target date is more than `keep_days` days before `today`."""
    cutoff = retention_cutoff(keep_days, today)
    c = forecasts.c
    deleted = 0
    for status in STATUSES:
        while True:
            with registry.writing() as conn:
                rows = conn.execute(select(c.id, c.ticker, c.role, c.model_version)
                                    .where(c.status == status, c.target_date < cutoff)
                                    .limit(batch).with_for_update()).all()
                for chunk in rollups.chunked([r.id for r in rows]):
                    conn.execute(delete(forecasts).where(c.id.in_(chunk)))
                if status == "pending":  # validated ones stay in the counts, like their errors in the roll-ups
                    groups = Counter((r.ticker, r.role, r.model_version) for r in rows)
                    rollups.change_counts(conn, [{**dict(zip(rollups.COUNT_KEYS, group, strict=True)), "pending": -n}
                                                 for group, n in groups.items()])
            deleted += len(rows)
            registry.checkpoint()
            if len(rows) < batch:
                break
    return PruneResult(deleted, cutoff)
