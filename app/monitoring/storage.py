"""Database schema and engine set-up for the forecast registry (SQLAlchemy Core, SQLite or PostgreSQL).

The tables below are the current schema; app/monitoring/migrations brings existing databases to it
(docs/migrations.md: how to add a column).
"""
from __future__ import annotations

import logging
import os
import weakref
from pathlib import Path

from sqlalchemy import (
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    create_engine,
    event,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from app.monitoring.measures import MEASURES
from app.monitoring.wal import JOURNAL_SIZE_LIMIT

log = logging.getLogger(__name__)

# Milliseconds a writer waits for another process's write lock before SQLite reports "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 5000
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# The newest revision in MIGRATIONS_DIR (tests/test_migrations.py checks it against Alembic's head). A registry
# already there is opened without importing Alembic, which costs every worker about 0.2 s and 12 MB.
SCHEMA_HEAD = "0005_daily_horizon_errors"
SCHEMA_LOCK_KEY = 7_300_315  # any constant: the PostgreSQL advisory lock that serialises schema upgrades

metadata = MetaData()

forecasts = Table(
    "forecasts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ticker", String(15), nullable=False),
    Column("made_at", Date, nullable=False),  # date of the last close the forecast was made from
    Column("target_date", Date, nullable=False),
    Column("horizon_step", Integer, nullable=False),  # 1 = next trading day
    Column("predicted", Float, nullable=False),
    Column("lower_80", Float),
    Column("upper_80", Float),
    Column("lower_95", Float),
    Column("upper_95", Float),
    Column("last_close", Float),  # the naive (persistence) forecast; NULL when a client did not send it
    Column("drift", Float),  # the drift baseline's forecast of this close; NULL when the client did not send it
    Column("model_version", String(64), nullable=False),
    Column("request_id", String(64)),
    Column("input_hash", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("status", String(10), nullable=False, server_default="pending"),
    Column("actual", Float),
    Column("actual_date", Date),  # the trading day whose close validated the forecast
    Column("abs_error", Float),
    Column("ape", Float),  # absolute percentage error, in percent
    Column("naive_abs_error", Float),
    Column("naive_ape", Float),
    Column("drift_abs_error", Float),
    Column("drift_ape", Float),
    # 1 when the realised close fell inside the forecast's 80% (95%) interval, 0 outside, NULL without bounds.
    Column("inside_80", Integer),
    Column("inside_95", Integer),
    Column("validated_at", DateTime(timezone=True)),
    # champion: the answer the user got; challenger: a shadow forecast of the same input, never returned;
    # external: registered through POST /monitoring/register. The role the version had when it forecast.
    Column("role", String(10), nullable=False, server_default="champion"),
    # One row per forecast, however often the same request is repeated.
    # input_hash first: the rows of one request are neighbours in the index, so a 30-day forecast dirties
    # a couple of index pages instead of one page per target date.
    UniqueConstraint("input_hash", "model_version", "ticker", "target_date", name="uq_forecasts_identity"),
    Index("ix_forecasts_status_target", "status", "target_date"),  # validation: pending forecasts now due
    Index("ix_forecasts_ticker_id", "ticker", "id"),  # a ticker's latest forecasts, newest first
)

# Every change of champion, oldest first: the newest row names the serving champion (workers read it, so a
# promotion reaches all of them and survives restarts); the earlier rows are the history to roll back along.
promotions = Table(
    "model_promotions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("version", String(64), nullable=False),
    Column("previous", String(64)),
    Column("promoted_at", DateTime(timezone=True), nullable=False),
    Column("forced", Integer, nullable=False, server_default="0"),  # 1 when the comparison gate was overridden
    Column("reason", String(500)),
)

actuals = Table(
    "actuals",
    metadata,
    Column("ticker", String(15), primary_key=True),
    Column("date", Date, primary_key=True),
    Column("close", Float, nullable=False),
)

# Roll-ups of validated forecasts, kept current by validation (app/monitoring/rollups.py): the performance report
# reads these small tables instead of every forecast, and they outlive the forecasts that retention prunes.


def _measure_columns() -> list[Column]:
    return [Column(m.name, m.sql_type) for m in MEASURES]


# role and model_version are in every key: the report shows the answers users got (role != challenger) or one
# version's forecasts (?model_version=V), and a roll-up row must belong to one side of either filter.
def _version_columns() -> list[Column]:
    return [Column("role", String(10), primary_key=True), Column("model_version", String(64), primary_key=True)]


daily_errors = Table(  # per target date, ticker and version: history, periods, degradation windows
    "daily_errors",
    metadata,
    Column("target_date", Date, primary_key=True),
    Column("ticker", String(15), primary_key=True),
    *_version_columns(),
    *_measure_columns(),
)

horizon_errors = Table(  # per ticker, horizon step and version, all time: overall, per-horizon, per-ticker
    "horizon_errors",
    metadata,
    Column("ticker", String(15), primary_key=True),
    Column("horizon_step", Integer, primary_key=True),
    *_version_columns(),
    *_measure_columns(),
)

daily_horizon_errors = Table(  # per target date, ticker, horizon step and version: per horizon over a period
    "daily_horizon_errors",
    metadata,
    Column("target_date", Date, primary_key=True),
    Column("ticker", String(15), primary_key=True),
    Column("horizon_step", Integer, primary_key=True),
    *_version_columns(),
    *_measure_columns(),
    # SQLite stores the rows in key order, so a period's rows are one contiguous range rather than an index
    # range plus a lookup of each row (about 30 rows per day and ticker: the largest roll-up).
    sqlite_with_rowid=False,
)

ticker_counts = Table(  # forecasts per ticker, version and status, updated by registration, validation, pruning
    "ticker_counts",
    metadata,
    Column("ticker", String(15), primary_key=True),
    *_version_columns(),
    Column("pending", Integer, nullable=False, server_default="0"),
    Column("validated", Integer, nullable=False, server_default="0"),
    Column("last_validated_at", DateTime(timezone=True)),
)


def dialect_insert(engine: Engine | str, table: Table):
    """An INSERT construct that supports on_conflict_do_nothing/update for the engine's dialect (or its name)."""
    name = engine if isinstance(engine, str) else engine.dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise ValueError(f"unsupported database dialect {name!r}: use sqlite or postgresql")


def sqlite_url(path: str) -> str:
    """SQLAlchemy URL for a SQLite file, creating its directory."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    return f"sqlite:///{os.path.abspath(path)}"


def make_engine(url: str) -> Engine:
    """Engine for url; SQLite gets WAL, a busy timeout and explicit BEGIN IMMEDIATE for writers."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        _configure_sqlite(engine)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    _dispose_pool_after_fork(engine)
    return engine


def _configure_sqlite(engine: Engine) -> None:
    """WAL lets readers run beside one writer; BEGIN IMMEDIATE makes writers queue on the busy timeout."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # pysqlite's own lazy BEGIN upgrades read locks to write locks, which fails at once with
        # "database is locked" under contention instead of waiting; we emit BEGIN ourselves.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        # NORMAL is safe in WAL mode: a crashed process loses nothing; only an OS crash may lose the last commit.
        cursor.execute("PRAGMA synchronous = NORMAL")
        # Checkpoints run in a background thread (app.monitoring.wal), never inside a request's commit.
        cursor.execute("PRAGMA wal_autocheckpoint = 0")
        cursor.execute(f"PRAGMA journal_size_limit = {JOURNAL_SIZE_LIMIT}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("write") else "BEGIN")


def probe_write(engine: Engine, wait_ms: int = 200) -> None:
    """Open and commit an empty write transaction, waiting at most wait_ms for SQLite's lock; raise if it fails."""
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as conn:
        # On the driver's connection: a SQLAlchemy statement here would open the transaction we want to time.
        raw = conn.connection.dbapi_connection if sqlite else None
        if sqlite:  # a readiness probe must answer quickly, not after the full busy timeout
            raw.execute(f"PRAGMA busy_timeout = {wait_ms}")
        try:
            conn.execution_options(write=True)
            with conn.begin():
                pass
        finally:
            if sqlite:
                raw.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")


def _dispose_pool_after_fork(engine: Engine) -> None:
    """Forked gunicorn workers must not share the parent's pooled connections."""
    ref = weakref.ref(engine)

    def _after_fork():
        live = ref()
        if live is not None:
            live.dispose(close=False)

    os.register_at_fork(after_in_child=_after_fork)


def upgrade_schema(engine: Engine) -> None:
    """Bring the registry's schema to the newest migration (app/monitoring/migrations); keeps every row."""
    if schema_revision(engine) == SCHEMA_HEAD:
        return
    # Alembic logs its set-up at INFO on every open (every worker, every command); we log what changed instead.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    from alembic import command
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))

    def run(conn: Connection) -> None:
        before = MigrationContext.configure(conn).get_current_revision()
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
        after = MigrationContext.configure(conn).get_current_revision()
        if after != before:
            log.info("forecast registry schema upgraded from %s to %s", before or "no revision", after)

    upgrade_connection(engine, run)


def schema_revision(engine: Engine) -> str | None:
    """The registry's Alembic revision, or None when it has none (new, or from before migrations)."""
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except SQLAlchemyError:  # no alembic_version table yet
        return None


def upgrade_connection(engine: Engine, migrate) -> None:
    """Call migrate(connection) in one write transaction that other processes wait for.

    Several gunicorn workers start at once and each upgrades: SQLite's BEGIN IMMEDIATE and a PostgreSQL
    transaction-level advisory lock let one migrate while the others wait, then find the schema current.
    """
    with engine.connect() as conn:
        conn.execution_options(write=True)
        with conn.begin():
            if engine.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY})
            migrate(conn)
