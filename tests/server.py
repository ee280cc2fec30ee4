"""Start the real gunicorn server (the same config file as `make run` and the Docker image) for tests."""
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))


def free_port():
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A running gunicorn: its base URL, its process and its log file."""

    def __init__(self, process, url, log_path):
        self.process, self.url, self.log_path = process, url, log_path

    def log(self):
        return Path(self.log_path).read_text(errors="replace")

    def worker_pids(self):
        """PIDs of the live workers (children of the master)."""
        out = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True).stdout
        return [int(pid) for pid in out.split()]


@contextmanager
def gunicorn_server(tmp_path, workers=2, env=None, ready_path="/ready", timeout=60):
    """Run `gunicorn -c app/gunicorn_conf.py` on a free loopback port until the block ends."""
    port = free_port()
    environ = dict(os.environ, HOST="127.0.0.1", PORT=str(port), WEB_CONCURRENCY=str(workers),
                   REGISTRY_PATH=str(tmp_path / "forecasts.sqlite3"),
                   PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prom_multiproc"))
    environ.update(env or {})
    log_path = tmp_path / "gunicorn.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([GUNICORN, "-c", "app/gunicorn_conf.py"], cwd=ROOT, env=environ,
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    server = Server(process, f"http://127.0.0.1:{port}", log_path)
    try:
        _wait_until_answering(server, ready_path, timeout)
        yield server
    finally:
        stop_process_group(process)


def stop_process_group(process):
    """SIGTERM a server started with start_new_session=True and its children; SIGKILL after 15 s."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def wait_for(condition, timeout=30.0, what="condition", interval=0.2):
    """Poll condition() until it returns something true, and return that; fail naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def wait_for_process(process, log_path, condition, what, timeout=30):
    """Poll condition() until true while `process` runs; fail with its log on exit or timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, Path(log_path).read_text(errors="replace")
        try:
            if condition():
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}\n{Path(log_path).read_text(errors='replace')}")


def _wait_until_answering(server, path, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {server.process.returncode}:\n{server.log()}")
        try:
            if requests.get(server.url + path, timeout=2).status_code < 500:
                return
        except requests.RequestException:  # not listening yet, or a booting worker held the request
            pass
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer {path} within {timeout}s:\n{server.log()}")


def missing_component(reason):
    """The one rule for a missing system component or artifact: skip locally, fail under CI=true."""
    import pytest

    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and {reason}")
    pytest.skip(reason)


def require_component(path, what):
    """`path` when that system component exists; else skip (or fail under CI=true)."""
    if Path(path).exists():
        return path
    missing_component(f"{what} not found at {path} (Debian package; .ci/run installs it)")


def require_command(name, package):
    """The path of command `name` on PATH; else skip (or fail under CI=true) naming its Debian package."""
    import shutil

    found = shutil.which(name)
    if found is None:
        missing_component(f"{name} not found: install the Debian package `{package}` (.ci/run does)")
    return found


def require_model_artifact(card_path):
    """Skip (or fail under CI=true) when no trained model artifact exists."""
    if not Path(card_path).exists():
        missing_component(f"no model artifact at {Path(card_path).parent} (make train writes it)")


def forecasting_models():
    """How many models forecast each request on a fresh server: the champion and every challenger shadowing it
    (each registers, and validation checks, its own forecast)."""
    from app.config import SETTINGS
    from app.model_store import ModelStore

    return len(ModelStore(os.environ.get("MODEL_STORE") or SETTINGS["MODEL_STORE"].default).serving_versions())


def champion_dir():
    """The folder of the champion a fresh server loads: MODEL_STORE's (as in `make run`), else the shipped store's."""
    from app.config import SETTINGS
    from app.model_store import ModelStore

    return ModelStore(os.environ.get("MODEL_STORE") or SETTINGS["MODEL_STORE"].default).default_champion_path()
