"""Promotion through gunicorn with several workers under load: no failed or mixed-up request, every worker
switches within 5 s without a restart, and the switch survives a restart (the real server, real models)."""
import sqlite3
import threading
import time

import pandas as pd
import requests

from tests.conftest import SAMPLE_CSV
from tests.server import gunicorn_server
from tests.test_model_versions import CHALLENGER, CHAMPION, TOKEN

AUTH = {"Authorization": f"Bearer {TOKEN}"}
PROMOTION_DEADLINE_S = 5.0
ENV = {"MONITORING_TOKEN": TOKEN, "VALIDATION_PRICE_SOURCE": "uploaded"}
HISTORY = pd.read_csv(SAMPLE_CSV)


WINDOWS = 2000


def distinct_csv(i):
    """A different 200-day history for each request, so each one registers its own forecasts.

    The window slides back a day per request; after WINDOWS requests the prices are also scaled, so no
    history repeats however fast the server answers (a repeat would be registered once, under the first id).
    """
    end = len(HISTORY) - 1 - (i % WINDOWS)
    window = HISTORY.iloc[end - 200:end].copy()
    scale = 1 + (i // WINDOWS) / 1000
    for column in ("Open", "High", "Low", "Close", "Adj Close"):
        if column in window:
            window[column] = window[column] * scale
    return window.to_csv(index=False).encode()


class Load:
    """Client threads posting forecasts until stopped; every answer is kept with its send and receive times."""

    def __init__(self, url, threads=4):
        self.url, self.answers, self.stop = url, [], threading.Event()
        self._lock, self._count = threading.Lock(), 0
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for thread in self.threads:
            thread.join(60)

    def _run(self):
        session = requests.Session()
        while not self.stop.is_set():
            with self._lock:
                self._count += 1
                i = self._count
            sent = time.monotonic()
            try:
                response = session.post(f"{self.url}/predict", files={"file": ("LOAD_data.csv", distinct_csv(i))},
                                        data={"horizon": "1"}, timeout=30)
                status, body = response.status_code, response.json()
            except (requests.RequestException, ValueError) as exc:
                status, body = None, {"error": repr(exc)}
            with self._lock:
                self.answers.append({"sent": sent, "done": time.monotonic(), "status": status, "body": body})


def registered_versions(db_path):
    """{request_id: {role: model_version}} from the registry the server wrote."""
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT request_id, role, model_version FROM forecasts").fetchall()
    found = {}
    for request_id, role, version in rows:
        found.setdefault(request_id, {})[role] = version
    return found


def test_promotion_under_load_reaches_every_worker_and_survives_a_restart(tmp_path):
    with gunicorn_server(tmp_path, workers=3, env=ENV) as server:
        assert requests.get(server.url + "/models", timeout=10).json()["champion"] == CHAMPION
        with Load(server.url) as load:
            time.sleep(3)
            asked = time.monotonic()
            promoted = requests.post(f"{server.url}/models/{CHALLENGER}/promote", headers=AUTH, timeout=30)
            answered = time.monotonic()
            time.sleep(PROMOTION_DEADLINE_S + 3)
        metrics = requests.get(server.url + "/metrics", timeout=10).text
        workers = len(server.worker_pids())
        log = server.log()
    assert promoted.status_code == 200, promoted.text
    answers = load.answers
    failed = [a for a in answers if a["status"] != 200]
    assert not failed, failed[:3]
    versions = [a["body"]["model_version"] for a in answers]
    assert set(versions) == {CHAMPION, CHALLENGER}
    assert all(a["body"]["model_version"] == CHAMPION for a in answers if a["done"] < asked)
    late = [a for a in answers if a["sent"] > answered + PROMOTION_DEADLINE_S]
    assert len(late) >= 5 and all(a["body"]["model_version"] == CHALLENGER for a in late)
    last_old = max(a["done"] for a in answers if a["body"]["model_version"] == CHAMPION)
    print(f"{len(answers)} forecasts through {workers} workers; the last answer by the old champion came "
          f"{last_old - answered:.2f} s after the promotion was answered")

    # No mixed-up request: each answer's version is the champion registered for it, its shadow the other one.
    registered = registered_versions(tmp_path / "forecasts.sqlite3")
    unregistered = [a["body"]["request_id"] for a in answers if not a["body"]["registered"]]
    assert not unregistered, (unregistered[:3], [line for line in log.splitlines() if "registry" in line][:5])
    for answer in answers:
        roles = registered[answer["body"]["request_id"]]
        other = CHALLENGER if answer["body"]["model_version"] == CHAMPION else CHAMPION
        assert roles == {"champion": answer["body"]["model_version"], "challenger": other}
    assert f'model_champion{{model_version="{CHALLENGER}"}} 1.0' in metrics

    with gunicorn_server(tmp_path, workers=2, env=ENV) as server:  # a restart keeps the promotion
        assert requests.get(server.url + "/model", timeout=10).json()["version"] == CHALLENGER
        rollback = requests.post(f"{server.url}/models/{CHAMPION}/promote", headers=AUTH, timeout=30)
        assert rollback.status_code == 200 and rollback.json()["previous"] == CHALLENGER
        time.sleep(1.5)  # each worker re-reads the champion at most every second
        cards = {requests.get(server.url + "/model", timeout=10).json()["version"] for _ in range(12)}
        assert cards == {CHAMPION}
