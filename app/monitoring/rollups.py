"""Keep the registry's roll-ups current inside the write that changes the forecasts, or rebuild them.

daily_errors (per target date and ticker), horizon_errors (per ticker and horizon step) and daily_horizon_errors
(per target date, ticker and horizon step) hold the measures of app/monitoring/measures.py per group of validated
forecasts; ticker_counts holds how many forecasts each ticker has per status. Every group is also keyed by the
forecasts' role and model_version, so the report can show the answers users got or one version's forecasts.
Validation merges the groups of the forecasts it has just validated into them, in the same transaction, so the
report does not scan raw forecasts and figures survive the pruning of old rows (app/monitoring/retention.py).
"""
from __future__ import annotations

import datetime as dt
import functools
from collections import Counter
from collections.abc import Iterable, Sequence

from sqlalchemy import case, delete, func, select, true
from sqlalchemy.engine import Connection

from app.monitoring.measures import MEASURES, merged, over_rows
from app.monitoring.storage import (
    daily_errors,
    daily_horizon_errors,
    dialect_insert,
    forecasts,
    horizon_errors,
    ticker_counts,
)

# Each roll-up table and the forecast columns it groups by (its primary key).
VERSION_KEYS = ("role", "model_version")
ROLLUPS = ((daily_errors, ("target_date", "ticker", *VERSION_KEYS)),
           (horizon_errors, ("ticker", "horizon_step", *VERSION_KEYS)),
           (daily_horizon_errors, ("target_date", "ticker", "horizon_step", *VERSION_KEYS)))
COUNT_KEYS = ("ticker", *VERSION_KEYS)
# Forecast ids per IN (...) list: well under SQLite's bound-parameter limit, and short statements on PostgreSQL.
ID_CHUNK = 500


def chunked(items: Sequence, size: int = ID_CHUNK) -> Iterable[Sequence]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def add_validated(conn: Connection, ids: Sequence[int], groups: Iterable[tuple[str, str, str]],
                  now: dt.datetime) -> None:
    """Merge forecasts `ids`, just validated in this transaction, into the roll-ups.

    `groups` holds each forecast's (ticker, role, model_version), one per id.
    """
    for chunk in chunked(ids):
        for table, keys in ROLLUPS:
            # By id alone: a status condition would tempt SQLite into scanning the status index instead.
            conn.execute(_merge_groups(conn, table, keys, forecasts.c.id.in_(chunk)))
    change_counts(conn, [{**dict(zip(COUNT_KEYS, group, strict=True)), "pending": -n, "validated": n,
                          "last_validated_at": now} for group, n in Counter(groups).items()])


def change_counts(conn: Connection, changes: list[dict]) -> None:
    """Add each change's pending and validated numbers to its (ticker, role, model_version) counts (creating the
    row when new)."""
    if not changes:
        return
    rows = [{**{k: c[k] for k in COUNT_KEYS}, "pending": c.get("pending", 0), "validated": c.get("validated", 0),
             "last_validated_at": c.get("last_validated_at")} for c in changes]
    conn.execute(_counts_upsert(conn.dialect.name), rows)


@functools.cache
def _counts_upsert(dialect: str):
    """The statement of change_counts, built once per dialect (building it per registration cost 0.2 ms)."""
    insert = dialect_insert(dialect, ticker_counts)
    kept, new = ticker_counts.c, insert.excluded
    return insert.on_conflict_do_update(index_elements=list(COUNT_KEYS), set_={
        "pending": kept.pending + new.pending, "validated": kept.validated + new.validated,
        "last_validated_at": func.coalesce(new.last_validated_at, kept.last_validated_at)})


def rebuild(conn: Connection) -> None:
    """Recompute every roll-up from the forecasts table (for registries filled outside the app, and tests)."""
    for table in (*(table for table, _ in ROLLUPS), ticker_counts):
        conn.execute(delete(table))
    for table, keys in ROLLUPS:
        conn.execute(_merge_groups(conn, table, keys, forecasts.c.status == "validated"))
    c = forecasts.c
    counts = select(*(c[k] for k in COUNT_KEYS), func.sum(case((c.status == "pending", 1), else_=0)),
                    func.sum(case((c.status == "validated", 1), else_=0)), func.max(c.validated_at)) \
        .where(true()).group_by(*(c[k] for k in COUNT_KEYS))
    conn.execute(dialect_insert(conn.dialect.name, ticker_counts).from_select(
        [*COUNT_KEYS, "pending", "validated", "last_validated_at"], counts))


def _merge_groups(conn: Connection, table, keys: tuple[str, ...], where):
    """INSERT ... SELECT the groups of the (validated) forecasts matching `where`, merged into existing roll-up rows."""
    c = forecasts.c
    # A sum over no values (no drift forecast in the group, say) is stored as 0, as merging would leave it.
    measures = [func.coalesce(expr, 0).label(m.name) if m.merge == "sum" else expr
                for m, expr in zip(MEASURES, over_rows(c), strict=True)]
    groups = select(*(c[k] for k in keys), *measures).where(where)
    groups = groups.group_by(*(c[k] for k in keys))
    insert = dialect_insert(conn.dialect.name, table).from_select([*keys, *(m.name for m in MEASURES)], groups)
    return insert.on_conflict_do_update(
        index_elements=list(keys),
        set_={m.name: merged(m, table.c[m.name], insert.excluded[m.name]) for m in MEASURES})

