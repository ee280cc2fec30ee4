"""Alembic migrations of the forecast registry on SQLite (PostgreSQL: tests/test_registry_postgres.py).

A registry made by the release before migrations, with rows, upgrades to the current schema and loses none; a
registry at an older revision gets the roll-ups added since, filled as validation would have kept them.
"""
import datetime as dt
import sqlite3
import subprocess
import sys
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, Table, create_engine, inspect, select, text

from app.monitoring import rollups
from app.monitoring.performance import performance_report
from app.monitoring.registry import ForecastRegistry
from app.monitoring.storage import (
    MIGRATIONS_DIR,
    SCHEMA_HEAD,
    daily_horizon_errors,
    forecasts,
    metadata,
    sqlite_url,
    upgrade_connection,
)
from tests.conftest import ROOT, run_processes
from tests.test_rollups import TODAY, _close, assert_same_measures, fill, raw_groups, rollup_rows, validate

OLD_REGISTRY_SQL = Path(__file__).parent / "data" / "registry_before_migrations.sqlite.sql"
HORIZON_DAY_KEYS = [column.name for column in daily_horizon_errors.primary_key]


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
        assert_rollups_match_the_forecasts(registry)
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


def assert_rollups_match_the_forecasts(registry):
    for table, keys in rollups.ROLLUPS:
        assert_same_measures(rollup_rows(registry, table, keys), raw_groups(registry, keys))


def downgrade(url, revision):
    """Take the registry at `url` back to `revision`, as `alembic downgrade` would."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    engine = create_engine(url)

    def run(conn):
        config.attributes["connection"] = conn
        command.downgrade(config, revision)

    try:
        upgrade_connection(engine, run)
        assert schema_state(engine)[0] == revision
    finally:
        engine.dispose()


def assert_upgrade_from_0004_fills_the_daily_horizon_rollup(url):
    """A registry at 0004 (no daily_horizon_errors) with validated forecasts upgrades to the newest revision with
    the roll-up filled as validation keeps it, and the period report's figures per horizon unchanged."""
    registry = ForecastRegistry(url)
    try:
        fill(registry, days=40, forecasts_per_day=1)
        validate(registry)
        kept = rollup_rows(registry, daily_horizon_errors, HORIZON_DAY_KEYS)
        period = (TODAY - dt.timedelta(days=20), TODAY - dt.timedelta(days=1))
        before = performance_report(registry, today=TODAY, period=period)
    finally:
        registry.dispose()
    assert len(kept) > 100 and len(before["by_horizon"]) == 5
    downgrade(url, "0004_rollups")
    plain = create_engine(url)
    assert "daily_horizon_errors" not in inspect(plain).get_table_names()
    plain.dispose()
    registry = ForecastRegistry(url)  # opening upgrades
    try:
        assert schema_state(registry.engine) == (head_revision(), [])
        assert_same_measures(rollup_rows(registry, daily_horizon_errors, HORIZON_DAY_KEYS), kept)
        assert_rollups_match_the_forecasts(registry)
        after = performance_report(registry, today=TODAY, period=period)
        _close(after["by_horizon"], before["by_horizon"])
        _close(after["coverage"], before["coverage"])
    finally:
        registry.dispose()


def test_a_registry_at_0004_upgrades_with_the_daily_horizon_rollup_filled(tmp_path):
    assert_upgrade_from_0004_fills_the_daily_horizon_rollup(sqlite_url(str(tmp_path / "at-0004.sqlite3")))
