"""The registry on a real PostgreSQL server (Debian package `postgresql`), started here on a loopback port."""
import datetime as dt
import glob
import multiprocessing
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pandas as pd
import pytest
from flask import Flask

import app.monitoring as monitoring
from app.monitoring.performance import performance_report
from app.monitoring.prices import UploadedActualsSource
from app.monitoring.registry import ForecastRegistry
from app.monitoring.validation import validate_pending_forecasts
from tests.server import free_port, missing_component

psycopg = pytest.importorskip("psycopg")


def _pg_bin():
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    return os.path.dirname(found[0]) if found else None


@pytest.fixture(scope="module")
def pg_server():
    """initdb + pg_ctl start in a temporary directory (as user postgres when running as root)."""
    bindir = _pg_bin()
    if bindir is None:
        missing_component("PostgreSQL server binaries not found (apt-get install postgresql)")
    as_user = []
    if os.geteuid() == 0:  # the server refuses to run as root
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            missing_component("running as root and there is no 'postgres' user to run the server as")
        as_user = ["runuser", "-u", "postgres", "--"]
    workdir = tempfile.mkdtemp(prefix="registry-pg-")
    if as_user:
        shutil.chown(workdir, "postgres")
    data, port = os.path.join(workdir, "data"), free_port()

    def run(*cmd):
        subprocess.run(as_user + list(cmd), check=True, capture_output=True, timeout=120)

    try:
        run(f"{bindir}/initdb", "-D", data, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8")
        run(f"{bindir}/pg_ctl", "-D", data, "-l", os.path.join(workdir, "server.log"), "-w", "-t", "60", "-o",
            f"-p {port} -c listen_addresses=127.0.0.1 -k {workdir} -c fsync=off -c max_connections=50", "start")
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(workdir, ignore_errors=True)
        pytest.fail(f"could not start PostgreSQL: {exc.stderr.decode(errors='replace')[-500:]}")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run(as_user + [f"{bindir}/pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server):
    """A fresh database per test."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server.replace("postgresql+psycopg", "postgresql") + "/postgres",
                         autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{pg_server}/{name}"


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
    ctx = multiprocessing.get_context("spawn")  # no fork: other tests leave threads holding SQLite locks
    procs = [ctx.Process(target=_writer, args=(pg_url, w, 100)) for w in range(4)]  # all create the schema too
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
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
    from sqlalchemy import create_engine

    from tests.test_migrations import all_rows, head_revision, schema_state

    old_sql = (Path(__file__).parent / "data" / "registry_before_migrations.postgresql.sql").read_text()
    with psycopg.connect(pg_url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as conn:
        conn.execute(old_sql)
    plain = create_engine(pg_url)
    before = all_rows(plain)
    assert len(before[0]) == 7 and len(before[1]) == 3 and schema_state(plain)[0] is None
    registry = ForecastRegistry(pg_url)
    try:
        assert schema_state(registry.engine) == (head_revision(), [])
        after = all_rows(plain)
        assert after[1] == before[1]
        assert [row[:len(before[0][0])] for row in after[0]] == before[0]
        assert registry.counts() == {"pending": 5, "validated": 2}
        assert registry.register_forecasts("MSFT", "2024-02-01", 100.0, rows("2024-02-02", 1), "v2", "r", "h") == 1
        ForecastRegistry(pg_url).dispose()  # a second worker finds the schema current
        assert registry.count_all() == 8
    finally:
        registry.dispose()
        plain.dispose()


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
    result = prune(registry, keep_days=30, today=TODAY, batch=50)
    assert result.deleted > 100
    after = performance_report(registry, today=TODAY, window_days=7)
    assert kept_figures(after, result.kept_from) == kept_figures(before, result.kept_from)
