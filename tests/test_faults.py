"""Faults through the real gunicorn: a killed worker, no Prometheus, an unusable registry, a broken model artifact."""
import io
import os
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from app.config import APP_DIR
from tests.conftest import SAMPLE_CSV
from tests.server import champion_dir, gunicorn_server, wait_for

HISTORY = pd.read_csv(SAMPLE_CSV)
MONOTONIC = ("http_requests_total", "model_predictions_total", "forecasts_registered_total")


def window_csv(i, rows=200):
    """CSV bytes of the i-th distinct window of the shipped history (each ends on another day)."""
    end = len(HISTORY) - (i % (len(HISTORY) - rows))
    return HISTORY.iloc[end - rows:end].to_csv(index=False).encode()


def post_csv(session, url, data, ticker="FAULT", horizon=3, timeout=30):
    return session.post(url + "/predict", data={"ticker": ticker, "horizon": str(horizon)},
                        files={"file": ("prices.csv", data)}, timeout=timeout)


def metric_totals(url):
    """Each counter on /metrics summed over its labels, by sample name."""
    text = requests.get(url + "/metrics", timeout=10).text
    return {family.name + "_total": sum(s.value for s in family.samples if s.name.endswith("_total"))
            for family in text_string_to_metric_families(text) if family.type == "counter"}


def registry_rows(path):
    """request_id -> {role: number of forecast rows} in the SQLite registry (the answer's and its shadows)."""
    rows = {}
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        for request_id, role, count in conn.execute(
                "SELECT request_id, role, COUNT(*) FROM forecasts GROUP BY request_id, role"):
            rows.setdefault(request_id, {})[role] = count
    return rows


def booted_workers(server):
    return server.log().count("Booting worker with pid")


# --- a worker killed under load -------------------------------------------------------------------------------

def test_killed_worker_is_replaced_and_no_answered_forecast_is_lost(tmp_path):
    with gunicorn_server(tmp_path, workers=2) as server:
        stop, answers, failures, counter = threading.Event(), [], [], iter(range(10**6))

        def client():
            session = requests.Session()
            while not stop.is_set():
                i = next(counter)
                try:
                    response = post_csv(session, server.url, window_csv(i), horizon=1 + i % 5)
                    answers.append((response.status_code, response.json(), 1 + i % 5))
                except requests.RequestException as exc:  # the request the killed worker was answering
                    failures.append(exc)
                    session = requests.Session()

        def scraper():
            while not stop.is_set():
                scrapes.append(metric_totals(server.url))
                time.sleep(0.1)

        scrapes = [metric_totals(server.url)]
        with ThreadPoolExecutor(4) as pool:
            tasks = [pool.submit(task) for task in (client, client, client, scraper)]
            try:
                wait_for(lambda: len(answers) >= 30, what="30 answers before the kill")
                victim = server.worker_pids()[0]
                os.kill(victim, signal.SIGKILL)
                replaced = wait_for(lambda: len(pids := server.worker_pids()) == 2 and victim not in pids and pids,
                                    what="gunicorn to start a replacement worker")
                answered_at_kill = len(answers)
                # Keep the load on until the replacement has answered requests too.
                wait_for(lambda: len(answers) >= answered_at_kill + 60, what="60 answers after the kill")
            finally:
                stop.set()
            for task in tasks:
                task.result()  # a client or scraper that failed otherwise would go unnoticed
        scrapes.append(metric_totals(server.url))
        rows = registry_rows(tmp_path / "forecasts.sqlite3")
        alive = server.worker_pids()

    assert victim not in alive and sorted(alive) == sorted(replaced)
    assert {status for status, _, _ in answers} == {200}
    assert len(failures) <= 1, failures  # at most the one request in flight on the killed worker
    for _, body, horizon in answers:
        assert body["registered"] is True, body
        # The shipped store has one challenger: its shadow forecast was kept with every answered one.
        assert rows.get(body["request_id"]) == {"champion": horizon, "challenger": horizon}, body["request_id"]
    for name in MONOTONIC:
        series = [scrape.get(name, 0.0) for scrape in scrapes]
        assert series == sorted(series), (name, series)
    final = scrapes[-1]
    # Counters of the killed worker stay in the totals: every answered forecast is counted.
    assert len(answers) <= final["model_predictions_total"] <= len(answers) + len(failures)
    assert final["forecasts_registered_total"] <= sum(sum(roles.values()) for roles in rows.values())


# --- Prometheus down --------------------------------------------------------------------------------------------

def test_api_answers_normally_with_no_prometheus_running(tmp_path):
    """The API is scraped, it never calls Prometheus: nothing it answers depends on a Prometheus server."""
    with gunicorn_server(tmp_path, workers=2) as server:
        session = requests.Session()
        answers = [post_csv(session, server.url, window_csv(i)) for i in range(4)]
        ready = session.get(server.url + "/ready")
        scrape = session.get(server.url + "/metrics")
    assert [a.status_code for a in answers] == [200] * 4 and all(a.json()["registered"] for a in answers)
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    assert scrape.status_code == 200 and "model_predictions_total 4.0" in scrape.text


# --- the registry database unusable -------------------------------------------------------------------------------

def test_locked_registry_answers_forecasts_unregistered_and_ready_says_why(tmp_path):
    database = tmp_path / "forecasts.sqlite3"
    with gunicorn_server(tmp_path, workers=2) as server:
        pids = server.worker_pids()
        holder = sqlite3.connect(database, isolation_level=None, timeout=1)
        holder.execute("BEGIN EXCLUSIVE")  # another process holds the write lock (e.g. a long manual edit)
        try:
            # Two at once so each worker meets the lock (a sync worker takes one request at a time).
            with ThreadPoolExecutor(2) as pool:
                locked = list(pool.map(lambda i: post_csv(requests.Session(), server.url, window_csv(i)), [1, 2]))
            readiness = [requests.get(server.url + "/ready", timeout=10) for _ in range(4)]
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert [r.status_code for r in locked] == [200, 200]
        assert all(r.json()["registered"] is False and r.json()["predictions"] for r in locked)
        for ready in readiness:
            assert ready.status_code == 503, ready.text
            assert any("forecast registry" in reason and "locked" in reason for reason in ready.json()["reasons"])
        # Lock released: forecasts register again and readiness comes back without any restart.
        session = requests.Session()
        wait_for(lambda: post_csv(session, server.url, window_csv(next_window())).json()["registered"]
                 and all(requests.get(server.url + "/ready").status_code == 200 for _ in range(4)),
                 what="registration and readiness after the lock is released")
        assert sorted(server.worker_pids()) == sorted(pids) and booted_workers(server) == 2
        log = server.log()
    assert "forecast registry write failed" in log and "database is locked" in log


def test_readiness_comes_back_after_a_lock_without_new_forecasts(tmp_path, monkeypatch):
    from app import create_app
    from app.monitoring import storage

    monkeypatch.setattr(storage, "SQLITE_BUSY_TIMEOUT_MS", 200)  # the lock is met quickly in this test
    client = create_app({"TESTING": True, "REGISTRY_PATH": str(tmp_path / "forecasts.sqlite3"),
                         "DATABASE_URL": ""}).test_client()
    holder = sqlite3.connect(tmp_path / "forecasts.sqlite3", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    answer = client.post("/predict", data={"file": (io.BytesIO(window_csv(0)), "GSPC_data.csv")})
    assert answer.json["registered"] is False and client.get("/ready").status_code == 503
    holder.execute("ROLLBACK")
    holder.close()
    assert client.get("/ready").status_code == 200  # the database is writable again


_windows = iter(range(100, 10**6))


def next_window():
    return next(_windows)


def _runs_as_root():
    return hasattr(os, "geteuid") and os.geteuid() == 0


def make_read_only(paths):
    """Make `paths` unwritable: chmod for a normal user; root writes past modes, so it gets the immutable flag."""
    if not _runs_as_root():
        for path in paths:
            path.chmod(0o555 if path.is_dir() else 0o444)
        return lambda: [path.chmod(0o755 if path.is_dir() else 0o644) for path in paths]
    chattr = shutil.which("chattr")
    if chattr is None or subprocess.run([chattr, "+i", *map(str, paths)], capture_output=True).returncode:
        pytest.skip("running as root and the immutable flag (chattr +i) is unavailable: no read-only path")
    return lambda: subprocess.run([chattr, "-i", *map(str, paths)], check=True)


@pytest.mark.parametrize("existing", [False, True], ids=["new-database", "existing-database"])
def test_read_only_registry_path_keeps_workers_up_and_ready_says_why(tmp_path, existing):
    registry_dir = tmp_path / "registry"
    registry_dir.mkdir()
    if existing:
        from app.monitoring import ForecastRegistry

        ForecastRegistry.at_path(str(registry_dir / "forecasts.sqlite3")).dispose()
    undo = make_read_only([*registry_dir.iterdir(), registry_dir])
    try:
        env = {"REGISTRY_PATH": str(registry_dir / "forecasts.sqlite3")}
        with gunicorn_server(tmp_path, workers=2, env=env, ready_path="/health") as server:
            pids = server.worker_pids()
            session = requests.Session()
            answers = [post_csv(session, server.url, window_csv(i)) for i in range(4)]
            readiness = [session.get(server.url + "/ready") for _ in range(4)]
            time.sleep(1.0)  # a crash loop would show as new workers by now
            assert sorted(server.worker_pids()) == sorted(pids) and booted_workers(server) == 2
            log = server.log()
    finally:
        undo()
    assert [a.status_code for a in answers] == [200] * 4
    assert all(a.json()["registered"] is False for a in answers)
    for ready in readiness:
        assert ready.status_code == 503
        reasons = " ".join(ready.json()["reasons"])
        assert "forecast registry" in reasons and str(registry_dir) in reasons, reasons
    assert "cannot open the forecast registry" in log and "Traceback" not in log


# --- a broken model artifact --------------------------------------------------------------------------------------

def _truncate(path):
    path.write_bytes(path.read_bytes()[:200])


@pytest.mark.parametrize("name, damage", [
    ("model_lstm.keras", Path.unlink),
    ("model_lstm.keras", _truncate),
    ("model.json", lambda path: path.write_text('{"version": "garbage", "window": ')),
    ("preprocessing.json", lambda path: path.write_text("not json at all")),
], ids=["weights-missing", "weights-truncated", "card-garbage", "scaler-garbage"])
def test_broken_model_artifact_is_503_naming_the_file_never_500(tmp_path, name, damage):
    store = tmp_path / "models"
    shutil.copytree(APP_DIR / "models", store)
    damage(store / champion_dir().name / name)
    with gunicorn_server(tmp_path, workers=1, env={"MODEL_STORE": str(store)}, ready_path="/health") as server:
        session = requests.Session()
        ready = session.get(server.url + "/ready")
        predict = post_csv(session, server.url, window_csv(0))
        by_ticker = session.post(server.url + "/predict", json={"ticker": "MSFT"})
        card = session.get(server.url + "/model")
        form = session.get(server.url + "/")
        page = session.post(server.url + "/", files={"file": ("GSPC_data.csv", window_csv(0))})
        log = server.log()
    assert ready.status_code == 503 and name in " ".join(ready.json()["reasons"])
    for response in (predict, by_ticker, card):
        assert response.status_code == 503, response.text
        assert response.json()["error"] == "model_unavailable" and name in response.json()["message"]
    assert form.status_code == 200 and name in form.text  # the form says why forecasts are unavailable
    assert page.status_code == 503 and "model is not loaded" in page.text
    model_lines = [line for line in log.splitlines() if "model not loaded" in line]
    assert len(model_lines) == 1 and name in model_lines[0], model_lines  # one line per worker, naming the file
    assert "Traceback" not in log
