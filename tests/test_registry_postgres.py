"""The registry on a real PostgreSQL server (Debian package `postgresql`), started here on a loopback port."""
import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from flask import Flask

import app.monitoring as monitoring
from app.monitoring.performance import performance_report
from app.monitoring.prices import UploadedActualsSource
from app.monitoring.registry import ForecastRegistry
from app.monitoring.validation import validate_pending_forecasts
from tests.conftest import run_processes
from tests.postgres import create_database, postgres_server
from tests.server import free_port

psycopg = pytest.importorskip("psycopg")


@pytest.fixture(scope="module")
def pg_server():
    with postgres_server() as url:
        yield url


@pytest.fixture
def pg_url(pg_server):
    """A fresh database per test."""
    return create_database(pg_server)


@pytest.fixture
def registry(pg_url):
    reg = ForecastRegistry(pg_url)
    yield reg
    reg.dispose()


def rows(start="2024-01-15", horizon=3):
    return [{"date": d.date(), "close": 100.0 + i, "lower_80": 99.0, "upper_80": 101.0 + i}
            for i, d in enumerate(pd.bdate_range(start, periods=horizon))]


def test_registration_is_deduplicated_on_postgres(registry):
    assert registry.register_forecasts("MSFT", "2024-01-12", 99.0, rows(), "v1", "r1", "h") == 3
    assert registry.register_forecasts("MSFT", "2024-01-12", 99.0, rows(), "v1", "r2", "h") == 0
    assert registry.register_forecasts("MSFT", "2024-01-12", 99.0, rows(horizon=5), "v1", "r3", "h") == 2
    assert registry.counts() == {"pending": 5, "validated": 0}
    assert registry.engine.dialect.name == "postgresql"


def test_validation_and_report_on_postgres(registry):
    registry.register_forecasts("MSFT", "2024-01-12", 99.0, rows(), "v1", "r1", "h")  # 15th holiday, 16th, 17th
    closes = pd.Series([98.0, 100.0, 102.0, 1.0], index=pd.to_datetime(["2024-01-12", "2024-01-16",
                                                                         "2024-01-17", "2024-01-18"]))
    assert registry.record_actuals("MSFT", closes) == 4
    assert registry.record_actuals("MSFT", closes.iloc[-1:] * 100) == 1  # upsert overwrites
    result = validate_pending_forecasts(registry, UploadedActualsSource(registry), today=dt.date(2024, 1, 20))
    assert result.validated == 3
    m = performance_report(registry, today=dt.date(2024, 1, 20))["metrics"]
    # forecasts 100, 101, 102 for the 15th (-> 16th's 100), 16th (100), 17th (102): errors 0, 1, 0
    assert m["mae"] == pytest.approx(1 / 3) and m["rmse"] == pytest.approx((1 / 3) ** 0.5)
    assert m["naive"]["mae"] == pytest.approx((1 + 1 + 3) / 3)  # |99-100|, |99-100|, |99-102|


def _writer(url, worker, n):
    reg = ForecastRegistry(url)
    for i in range(n):
        reg.register_forecasts("MSFT", "2024-01-12", 99.0, [{"date": "2024-01-15", "close": float(i)}],
                               "v1", f"{worker}-{i}", f"{worker}-{i}")
        reg.register_forecasts("AAPL", "2024-01-12", 99.0, [{"date": "2024-01-15", "close": 1.0}], "v1", "x", "same")
    reg.dispose()


def test_concurrent_processes_and_schema_creation_on_postgres(pg_url):
    assert run_processes(_writer, [(pg_url, w, 100) for w in range(4)]) == [0, 0, 0, 0]  # all create the schema
    reg = ForecastRegistry(pg_url)
    assert reg.counts("MSFT")["pending"] == 400 and reg.counts("AAPL")["pending"] == 1
    reg.dispose()


def test_init_app_uses_database_url_and_survives_an_unreachable_server(pg_url, tmp_path):
    app = Flask("pg_test", instance_path=str(tmp_path))
    app.config["DATABASE_URL"] = pg_url
    handle = monitoring.init_app(app)
    assert handle.get() is not None and handle.problem() is None
    handle.close()
    down = Flask("pg_down", instance_path=str(tmp_path))
    credentials = "postgres:hunter2"  # pragma: allowlist secret - a server that is not running
    down.config["DATABASE_URL"] = f"postgresql+psycopg://{credentials}@127.0.0.1:{free_port()}/nothing"
    down_handle = monitoring.init_app(down)
    assert down_handle.get() is None
    reason = down_handle.problem()
    assert "cannot open the forecast registry" in reason and "hunter2" not in reason


# --- schema migrations (the SQLite side: tests/test_migrations.py) --------------------------------------------

def test_a_new_postgres_registry_is_created_at_the_newest_revision(registry):
    from tests.test_migrations import head_revision, schema_state

    assert schema_state(registry.engine) == (head_revision(), [])


def test_a_postgres_registry_from_before_migrations_upgrades_and_keeps_every_row(pg_url):
    from tests.test_migrations import assert_upgrade_keeps_every_row

    old_sql = (Path(__file__).parent / "data" / "registry_before_migrations.postgresql.sql").read_text()
    with psycopg.connect(pg_url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as conn:
        conn.execute(old_sql)
    assert_upgrade_keeps_every_row(pg_url)


def test_a_postgres_registry_at_0004_upgrades_with_the_daily_horizon_rollup_filled(pg_url):
    from tests.test_migrations import assert_upgrade_from_0004_fills_the_daily_horizon_rollup

    assert_upgrade_from_0004_fills_the_daily_horizon_rollup(pg_url)


def test_rollups_and_pruning_on_postgres(registry):
    """The roll-ups equal a scan of the raw rows, and pruning keeps the figures of the days kept."""
    from app.monitoring import rollups
    from app.monitoring.retention import prune
    from tests.test_rollups import TODAY, assert_same_measures, fill, kept_figures, raw_groups, rollup_rows, validate

    fill(registry, days=50, forecasts_per_day=1)
    validate(registry)
    for table, keys in rollups.ROLLUPS:
        assert_same_measures(rollup_rows(registry, table, keys), raw_groups(registry, keys))
    before = performance_report(registry, today=TODAY, window_days=7)
    whole = (TODAY - dt.timedelta(days=90), TODAY - dt.timedelta(days=1))  # reaching over the days pruned
    before_period = performance_report(registry, today=TODAY, window_days=7, period=whole)
    result = prune(registry, keep_days=30, today=TODAY, batch=50)
    assert result.deleted > 100
    after = performance_report(registry, today=TODAY, window_days=7)
    assert kept_figures(after, result.kept_from) == kept_figures(before, result.kept_from)
    after_period = performance_report(registry, today=TODAY, window_days=7, period=whole)
    assert before_period["by_horizon"] and kept_figures(after_period, dt.date.min) == \
        kept_figures(before_period, dt.date.min)
