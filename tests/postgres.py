"""A real PostgreSQL server (Debian package `postgresql`) for tests: initdb and pg_ctl on a loopback port."""
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from contextlib import contextmanager

import pytest

from tests.server import free_port


def _missing(reason):
    """Skip locally; under CI=true a missing component is a failure."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and {reason}")
    pytest.skip(reason)


def _pg_bin():
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    return os.path.dirname(found[0]) if found else None


@contextmanager
def postgres_server():
    """initdb + pg_ctl start in a temporary directory (as user postgres when running as root).

    Yields the SQLAlchemy URL of the server without a database name: "postgresql+psycopg://postgres@host:port".
    """
    bindir = _pg_bin()
    if bindir is None:
        _missing("PostgreSQL server binaries not found (apt-get install postgresql)")
    as_user = []
    if os.geteuid() == 0:  # the server refuses to run as root
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            _missing("running as root and there is no 'postgres' user to run the server as")
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


def create_database(server_url):
    """A fresh database on the server; returns its SQLAlchemy URL."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url.replace("postgresql+psycopg", "postgresql") + "/postgres",
                         autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{server_url}/{name}"
