"""Alembic migrations of the forecast registry on SQLite (PostgreSQL: tests/test_registry_postgres.py).

A registry made by the release before migrations, with rows, upgrades to the current schema and loses none.
"""
import datetime as dt
import sqlite3
import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, Table, create_engine, inspect, select, text

from app.monitoring.registry import ForecastRegistry
from app.monitoring.storage import MIGRATIONS_DIR, SCHEMA_HEAD, forecasts, metadata, sqlite_url
from tests.conftest import ROOT, run_processes

OLD_REGISTRY_SQL = Path(__file__).parent / "data" / "registry_before_migrations.sqlite.sql"


def head_revision():
    return ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()


def schema_state(engine):
    """(alembic revision, differences between the database and app/monitoring/storage.py's tables)."""
    with engine.connect() as conn:
        revision = MigrationContext.configure(conn).get_current_revision()
        differences = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    return revision, differences


def all_rows(engine):
    """Every row of both tables as the database holds them (its own columns, in its own order: reflected, since an
    older registry lacks the columns later revisions add)."""
    tables = MetaData()
    stored_forecasts = Table("forecasts", tables, autoload_with=engine)
    stored_actuals = Table("actuals", tables, autoload_with=engine)
    with engine.connect() as conn:
        return ([tuple(r) for r in conn.execute(select(stored_forecasts).order_by(stored_forecasts.c.id))],
                [tuple(r) for r in conn.execute(select(stored_actuals).order_by(stored_actuals.c.ticker,
                                                                                stored_actuals.c.date))])


def old_registry(path, drop_indexes=False):
    """A SQLite registry exactly as the release before migrations left it (see the fixture's header)."""
    with sqlite3.connect(path) as conn:
        conn.executescript(OLD_REGISTRY_SQL.read_text())
        if drop_indexes:  # an even older registry, made before these indexes existed
            conn.executescript("DROP INDEX ix_forecasts_validated_errors; DROP INDEX ix_forecasts_ticker_status;")
    return sqlite_url(str(path))


def test_a_new_registry_is_created_at_the_newest_revision(tmp_path):
    registry = ForecastRegistry.at_path(str(tmp_path / "new.sqlite3"))
    try:
        assert schema_state(registry.engine) == (head_revision(), [])
    finally:
        registry.dispose()


def assert_upgrade_keeps_every_row(url):
    """Open the old registry at `url` as the app does: it reaches the newest revision with every row intact."""
    plain = create_engine(url)
    before = all_rows(plain)
    assert len(before[0]) == 7 and len(before[1]) == 3
    assert schema_state(plain)[0] is None  # no alembic_version yet
    registry = ForecastRegistry(url)
    try:
        assert schema_state(registry.engine) == (head_revision(), [])
        after = all_rows(plain)
        assert after[1] == before[1]
        # New nullable columns may follow in later revisions: the rows keep every value they had.
        assert [row[:len(before[0][0])] for row in after[0]] == before[0]
        assert registry.counts() == {"pending": 5, "validated": 2}
        new = registry.register_forecasts("MSFT", dt.date(2024, 2, 1), 100.0, [{"date": dt.date(2024, 2, 2),
                                                                                 "close": 101.0}], "v2", "r", "h")
        ForecastRegistry(url).dispose()  # a second worker finds the schema current
        assert new == 1 and registry.count_all() == 8
    finally:
        registry.dispose()
        plain.dispose()


def test_a_registry_from_before_migrations_upgrades_and_keeps_every_row(tmp_path):
    assert_upgrade_keeps_every_row(old_registry(tmp_path / "old.sqlite3"))


def test_indexes_an_older_registry_lacked_are_added(tmp_path):
    url = old_registry(tmp_path / "older.sqlite3", drop_indexes=True)
    registry = ForecastRegistry(url)
    try:
        names = {index["name"] for index in inspect(registry.engine).get_indexes("forecasts")}
        assert {index.name for index in forecasts.indexes} <= names
        assert schema_state(registry.engine) == (head_revision(), [])
    finally:
        registry.dispose()


def test_upgrading_twice_changes_nothing(tmp_path):
    url = old_registry(tmp_path / "old.sqlite3")
    ForecastRegistry(url).dispose()
    engine = create_engine(url)
    before = all_rows(engine)
    ForecastRegistry(url).dispose()
    assert all_rows(engine) == before
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1
    engine.dispose()


def _open_registry(url):
    ForecastRegistry(url).dispose()


def test_workers_starting_together_upgrade_once(tmp_path):
    """Four processes open one old registry at the same moment, as gunicorn workers do."""
    url = old_registry(tmp_path / "shared.sqlite3")
    assert run_processes(_open_registry, [(url,)] * 4) == [0, 0, 0, 0]
    engine = create_engine(url)
    assert schema_state(engine) == (head_revision(), []) and len(all_rows(engine)[0]) == 7
    engine.dispose()


def test_the_head_a_worker_checks_without_alembic_is_alembics_head():
    assert head_revision() == SCHEMA_HEAD


def test_a_registry_at_the_head_is_opened_without_importing_alembic(tmp_path):
    """A worker opening a current registry skips Alembic (0.2 s and 12 MB each); a new one still migrates."""
    path = tmp_path / "current.sqlite3"
    ForecastRegistry.at_path(str(path)).dispose()
    code = ("import sys; from app.monitoring.registry import ForecastRegistry; "
            f"r = ForecastRegistry.at_path({str(path)!r}); r.dispose(); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]", out.stdout
