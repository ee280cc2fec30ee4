"""ForecastRegistry: stores every forecast once, the realised closes, and the validation results."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager

import pandas as pd
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from app.monitoring import rollups
from app.monitoring.storage import (
    actuals,
    dialect_insert,
    forecasts,
    make_engine,
    probe_write,
    sqlite_url,
    ticker_counts,
    upgrade_schema,
)
from app.monitoring.tickers import UNKNOWN_TICKER
from app.monitoring.values import as_date, closes_series, input_fingerprint
from app.monitoring.wal import WalCheckpointer

# The value helpers stay importable from here, where callers have always found them.
__all__ = ["STATUSES", "VALIDATION_FIELDS", "ForecastRegistry", "as_date", "closes_series", "input_fingerprint"]

STATUSES = ("pending", "validated")
_IDENTITY = ["input_hash", "model_version", "ticker", "target_date"]
# What validation writes on each forecast besides its status (mark_validated's rows carry these keys).
VALIDATION_FIELDS = ("actual", "actual_date", "abs_error", "ape", "naive_abs_error", "naive_ape",
                     "drift_abs_error", "drift_ape", "inside_80", "inside_95")


class ForecastRegistry:
    """Forecast registry on a SQLAlchemy URL (sqlite:///path or postgresql+psycopg://...)."""

    def __init__(self, url: str, create: bool = True):
        self.url = url
        self.engine = make_engine(url)
        self.last_error: str | None = None  # last failed write, for /ready; cleared by the next success
        database = self.engine.url.database
        on_file = self.engine.dialect.name == "sqlite" and bool(database) and database != ":memory:"
        self._checkpointer = WalCheckpointer(database) if on_file else None
        self._insert_forecast = (dialect_insert(self.engine, forecasts)
                                 .on_conflict_do_nothing(index_elements=_IDENTITY)
                                 .execution_options(preserve_rowcount=True))
        upsert = dialect_insert(self.engine, actuals)
        # Re-uploading the same history rewrites nothing: only new dates and changed closes touch the disk.
        self._upsert_actual = (upsert.on_conflict_do_update(index_elements=["ticker", "date"],
                                                            set_={"close": upsert.excluded.close},
                                                            where=actuals.c.close != upsert.excluded.close)
                               .execution_options(preserve_rowcount=True))
        # One statement for every row a validation run writes (executemany); the status guard makes concurrent
        # validators count each forecast once.
        self._validate_row = (update(forecasts)
                              .where(forecasts.c.id == bindparam("row_id"), forecasts.c.status == "pending")
                              .values(status="validated", validated_at=bindparam("row_validated_at"),
                                      **{k: bindparam(f"row_{k}") for k in VALIDATION_FIELDS}))
        if create:
            upgrade_schema(self.engine)

    @classmethod
    def at_path(cls, path: str) -> ForecastRegistry:
        """Registry in a SQLite file at path (its directory is created)."""
        return cls(sqlite_url(path))

    def __repr__(self) -> str:
        return f"ForecastRegistry({self.engine.url.render_as_string(hide_password=True)!r})"

    def dispose(self) -> None:
        """Stop the checkpoint thread and close pooled connections."""
        if self._checkpointer is not None:
            self._checkpointer.stop()
        self.engine.dispose()

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """A write transaction (BEGIN IMMEDIATE on SQLite); remembers failures for readiness checks."""
        try:
            with self.engine.connect() as conn:
                conn.execution_options(write=True)
                with conn.begin():
                    yield conn
        except SQLAlchemyError as exc:
            self.last_error = f"forecast registry write failed: {_describe(exc)}"
            raise
        self.last_error = None
        if self._checkpointer is not None:
            self._checkpointer.ensure_running()

    def checkpoint(self) -> None:
        """Copy SQLite's write-ahead log into the database now (nothing on PostgreSQL).

        Bulk jobs call it between batches: the background checkpoints never catch up with back-to-back
        transactions, and the log then grows by gigabytes (4 GB while pruning 470,000 forecasts).
        """
        if self._checkpointer is not None:
            with self.engine.connect() as conn:
                self._checkpointer.checkpoint(conn.connection.dbapi_connection)

    def recheck(self) -> str | None:
        """After a failed write, probe with an empty write so readiness recovers without new traffic."""
        if self.last_error is not None:
            try:
                probe_write(self.engine)
            except SQLAlchemyError as exc:
                self.last_error = f"forecast registry write failed: {_describe(exc)}"
            else:
                self.last_error = None
        return self.last_error

    def ping(self) -> None:
        """Raise if the database cannot be read."""
        with self.engine.connect() as conn:
            conn.execute(select(1)).scalar_one()

    # --- writes -------------------------------------------------------------------------------------

    def register_forecasts(self, ticker: str, made_at, last_close: float | None,
                           forecast_rows: Iterable[Mapping], model_version: str,
                           request_id: str | None, input_hash: str, role: str = "champion",
                           shadows: Iterable[tuple[str, Iterable[Mapping]]] = (), closes=None) -> int:
        """Store forecast_rows ({date, close, lower_80, ...}, step 1 first); returns how many were new.

        `shadows` are (model_version, rows) of challengers that forecast the same input: they are stored in the
        same transaction with role "challenger", so a forecast and its shadows are kept or lost together.
        `closes` (a price frame or Series), when given, are stored as realised closes in the same transaction,
        as record_actuals would (one commit per forecast request instead of two).
        """
        common = {"ticker": ticker, "made_at": as_date(made_at), "request_id": request_id,
                  "input_hash": input_hash, "created_at": dt.datetime.now(dt.UTC),
                  "last_close": None if last_close is None else float(last_close), "status": "pending"}
        # One group per model version: each gets its own pending count in the roll-ups.
        groups = [(str(model_version), role, _rows(common, model_version, role, forecast_rows))]
        for shadow_version, shadow_rows in shadows:
            groups.append((str(shadow_version), "challenger", _rows(common, shadow_version, "challenger", shadow_rows)))
        groups = [g for g in groups if g[2]]
        if not groups:
            return 0
        # executemany of one cached statement: a multi-row VALUES would be recompiled on every call (~8 ms for
        # 30 rows). preserve_rowcount keeps the driver's count of inserted rows (conflicts count 0).
        actual_rows = [] if closes is None else self._actual_rows(ticker, closes)
        total = 0
        with self.writing() as conn:
            changes = []
            for version, group_role, rows in groups:
                new = max(conn.execute(self._insert_forecast, rows).rowcount, 0)
                if new:
                    changes.append({"ticker": ticker, "role": group_role, "model_version": version, "pending": new})
                total += new
            rollups.change_counts(conn, changes)
            if actual_rows:
                conn.execute(self._upsert_actual, actual_rows)
        return total

    def record_actuals(self, ticker: str, frame_or_series, since=None) -> int:
        """Store realised closes for ticker (newer uploads overwrite); returns rows added or changed.

        Only dates >= since are kept when since is given.
        """
        rows = self._actual_rows(ticker, frame_or_series, since)
        if not rows:
            return 0
        with self.writing() as conn:
            return max(conn.execute(self._upsert_actual, rows).rowcount, 0)

    @staticmethod
    def _actual_rows(ticker: str, frame_or_series, since=None) -> list[dict]:
        """Rows of the actuals table for ticker's closes (none for an unnamed upload: they could be any stock's)."""
        if ticker == UNKNOWN_TICKER:
            return []
        series = closes_series(frame_or_series)
        if since is not None:
            series = series[series.index >= pd.Timestamp(as_date(since))]
        return [{"ticker": ticker, "date": day, "close": close}
                for day, close in zip(series.index.date, series.to_numpy().tolist(), strict=True)]

    def mark_validated(self, results: Iterable[Mapping]) -> list[int]:
        """Set actual/error fields of still-pending forecasts and merge them into the roll-ups, in one transaction.

        Returns the ids this call validated (in the order given); a forecast another validator has just done is
        skipped, so each is counted once.
        """
        now = dt.datetime.now(dt.UTC)
        by_id = {r["id"]: r for r in results}
        done = []
        with self.writing() as conn:
            for chunk in rollups.chunked(list(by_id)):
                # FOR UPDATE: on PostgreSQL a concurrent validator waits here instead of validating the same rows.
                # Status checked here, not in SQL: SQLite would scan the status index instead of the ids.
                found = {r.id: (r.ticker, r.role, r.model_version) for r in conn.execute(
                    select(forecasts.c.id, forecasts.c.ticker, forecasts.c.role, forecasts.c.model_version,
                           forecasts.c.status)
                    .where(forecasts.c.id.in_(chunk)).with_for_update()) if r.status == "pending"}
                ids = [i for i in chunk if i in found]
                if not ids:
                    continue
                conn.execute(self._validate_row, [
                    {"row_id": i, "row_validated_at": now, **{f"row_{k}": by_id[i].get(k) for k in VALIDATION_FIELDS}}
                    for i in ids])
                rollups.add_validated(conn, ids, [found[i] for i in ids], now)
                done.extend(ids)
        return done

    # --- reads --------------------------------------------------------------------------------------

    def earliest_pending_target(self, ticker: str) -> dt.date | None:
        """Earliest target date among ticker's pending forecasts (closes before it validate nothing)."""
        stmt = select(func.min(forecasts.c.target_date)).where(
            forecasts.c.ticker == ticker, forecasts.c.status == "pending")
        with self.engine.connect() as conn:
            value = conn.execute(stmt).scalar()
        return None if value is None else as_date(value)

    def pending(self, since=None, until=None, ticker: str | None = None) -> list[dict]:
        """Pending forecasts with since <= target_date <= until (both optional), oldest target first."""
        stmt = select(forecasts).where(forecasts.c.status == "pending")
        if since is not None:
            stmt = stmt.where(forecasts.c.target_date >= as_date(since))
        if until is not None:
            stmt = stmt.where(forecasts.c.target_date <= as_date(until))
        if ticker is not None:
            stmt = stmt.where(forecasts.c.ticker == ticker)
        stmt = stmt.order_by(forecasts.c.target_date, forecasts.c.id)
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(stmt)]

    def actual_closes(self, ticker: str, start=None, end=None) -> pd.Series:
        """Stored realised closes of ticker between start and end (inclusive) as a Series by date."""
        stmt = select(actuals.c.date, actuals.c.close).where(actuals.c.ticker == ticker)
        if start is not None:
            stmt = stmt.where(actuals.c.date >= as_date(start))
        if end is not None:
            stmt = stmt.where(actuals.c.date <= as_date(end))
        with self.engine.connect() as conn:
            rows = conn.execute(stmt.order_by(actuals.c.date)).all()
        index = pd.DatetimeIndex([pd.Timestamp(r.date) for r in rows], name="date")
        return pd.Series([r.close for r in rows], index=index, dtype="float64", name="close")

    def counts(self, ticker: str | None = None) -> dict[str, int]:
        """Number of forecasts per status (from the per-ticker counts, not a scan)."""
        t = ticker_counts.c
        stmt = select(func.sum(t.pending), func.sum(t.validated))
        if ticker is not None:
            stmt = stmt.where(t.ticker == ticker)
        with self.engine.connect() as conn:
            pending, validated = conn.execute(stmt).one()
        return {"pending": int(pending or 0), "validated": int(validated or 0)}

    def last_validated_at(self) -> dt.datetime | None:
        """When a forecast was last validated, or None."""
        with self.engine.connect() as conn:
            latest = conn.execute(select(func.max(ticker_counts.c.last_validated_at))).scalar_one()
        if latest is not None and latest.tzinfo is None:  # SQLite returns naive datetimes; they are stored in UTC
            latest = latest.replace(tzinfo=dt.UTC)
        return latest

    def count_all(self) -> int:
        """Total number of registered forecasts."""
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(forecasts)).scalar_one())


def _rows(common: dict, model_version: str, role: str, forecast_rows: Iterable[Mapping]) -> list[dict]:
    """Registry rows of one model's forecast (step 1 first) with the request's common fields."""
    return [{**common, "target_date": as_date(row["date"]), "horizon_step": int(row.get("horizon_step", step)),
             "predicted": float(row["close"]), "lower_80": _opt_float(row.get("lower_80")),
             "upper_80": _opt_float(row.get("upper_80")), "lower_95": _opt_float(row.get("lower_95")),
             "upper_95": _opt_float(row.get("upper_95")), "drift": _opt_float(row.get("drift")),
             "model_version": str(model_version), "role": role}
            for step, row in enumerate(forecast_rows, start=1)]


def _opt_float(value) -> float | None:
    return None if value is None else float(value)


def _describe(exc: Exception) -> str:
    cause = getattr(exc, "orig", None) or exc
    return f"{type(cause).__name__}: {cause}"
