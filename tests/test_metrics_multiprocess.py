"""Metrics stay exact across processes: merged files, dead workers, and the real gunicorn with 3 workers."""
import os
import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.server import champion_dir, gunicorn_server, require_model_artifact, wait_for

ROOT = Path(__file__).resolve().parents[1]
# The server loads the champion of MODEL_STORE when set (as in `make run`), else the shipped store's.
MODEL_CARD = champion_dir() / "model.json"
PROCESS_SERIES = ("process_cpu_seconds_total", "process_resident_memory_bytes", "python_gc_objects_collected_total")


def parse(text):
    """{sample name: [(labels, value)]} of a /metrics text."""
    samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples.setdefault(s.name, []).append((s.labels, s.value))
    return samples


def total(samples, name, **match):
    return sum(v for labels, v in samples.get(name, []) if all(labels.get(k) == w for k, w in match.items()))


def pids(samples, name):
    return {labels["pid"] for labels, _ in samples.get(name, [])}


# --- several plain processes sharing one directory (no gunicorn): the merge and mark_process_dead ----------

WORKER_SCRIPT = textwrap.dedent("""
    import os, sys, time
    from flask import Flask
    from app import metrics
    app = Flask("worker")
    m = metrics.init_app(app)

    @app.get("/ping")
    def ping():
        return "pong"

    client = app.test_client()
    requests_n, error, pending, validated_at = (float(a) for a in sys.argv[1:5])
    for _ in range(int(requests_n)):
        client.get("/ping")
    m.record_errors("validated", [100.0 + error], [100.0], [100.0])
    m.record_validation(1, pending, validated_at)
    print(os.getpid())
    if len(sys.argv) > 5:
        sys.stdout.write(client.get("/metrics").get_data(as_text=True))
""")


def run_worker(multiproc_dir, *args):
    env = dict(os.environ, PROMETHEUS_MULTIPROC_DIR=str(multiproc_dir), PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", WORKER_SCRIPT, *map(str, args)], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=60, check=True).stdout
    pid, _, text = out.partition("\n")
    return pid, parse(text)


def test_processes_are_merged_and_dead_ones_keep_their_counts(tmp_path):
    from prometheus_client.multiprocess import mark_process_dead

    multiproc_dir = tmp_path / "multiproc"
    multiproc_dir.mkdir()
    pid_a, _ = run_worker(multiproc_dir, 3, 5.0, 7, 1_700_000_300)
    time.sleep(0.01)  # mostrecent compares wall-clock timestamps
    pid_b, _ = run_worker(multiproc_dir, 2, 1.0, 4, 1_700_000_100)
    mark_process_dead(int(pid_a), str(multiproc_dir))
    pid_c, samples = run_worker(multiproc_dir, 0, 2.0, 9, 1_700_000_200, "scrape")

    assert total(samples, "http_requests_total", endpoint="/ping") == 5
    assert total(samples, "http_request_duration_seconds_count", endpoint="/ping") == 5
    assert total(samples, "model_prediction_errors_total", source="validated", forecaster="lstm") == 3
    assert total(samples, "model_prediction_absolute_error_total", source="validated", forecaster="lstm") == 8
    assert total(samples, "forecasts_validated_total") == 3
    # The latest values win, whichever process wrote them, dead or alive; the latest run is the largest time.
    assert samples["model_prediction_error_absolute"] == [({"source": "validated"}, 2.0)]
    assert samples["forecasts_pending"] == [({}, 9.0)]
    assert samples["forecasts_last_validation_timestamp_seconds"] == [({}, 1_700_000_300.0)]
    # Process figures: one series per process not marked dead, cumulative ones typed as counters.
    for name in PROCESS_SERIES:
        assert pids(samples, name) == {pid_b, pid_c}, name
    assert {labels["generation"] for labels, _ in samples["python_gc_objects_collected_total"]} == {"0", "1", "2"}


def test_process_counters_are_typed_as_counters(tmp_path):
    multiproc_dir = tmp_path / "multiproc"
    multiproc_dir.mkdir()
    env = dict(os.environ, PROMETHEUS_MULTIPROC_DIR=str(multiproc_dir), PYTHONPATH=str(ROOT))
    script = ("from flask import Flask\nfrom app import metrics\napp = Flask('x')\nmetrics.init_app(app)\n"
              "print(app.test_client().get('/metrics').get_data(as_text=True))")
    text = subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=60, check=True).stdout
    assert "# TYPE process_cpu_seconds_total counter" in text
    assert "# TYPE python_gc_objects_collected_total counter" in text
    assert "# TYPE process_resident_memory_bytes gauge" in text


@pytest.mark.parametrize("order, message", [
    ("import prometheus_client, os; os.environ['PROMETHEUS_MULTIPROC_DIR'] = {dir!r}",
     "was set after prometheus_client was imported"),
    ("import os; os.environ['PROMETHEUS_MULTIPROC_DIR'] = {dir!r} + '/missing'",
     "is not a directory; create it or unset the variable"),
])
def test_half_configured_multiprocess_mode_fails_fast(tmp_path, order, message):
    script = order.format(dir=str(tmp_path)) + "\nfrom flask import Flask\nfrom app import metrics\n" \
                                                "metrics.init_app(Flask('x'))"
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    env["PYTHONPATH"] = str(ROOT)
    result = subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode != 0
    assert message in result.stderr


# --- the real server: gunicorn -c app/gunicorn_conf.py with 3 workers -------------------------------------

def require_model():
    require_model_artifact(MODEL_CARD)


class Scraper:
    """Scrapes /metrics and remembers how many scrapes it made (each is counted once answered)."""

    def __init__(self, url):
        self.url, self.count = url + "/metrics", 0

    def __call__(self):
        response = requests.get(self.url, timeout=10)
        assert response.status_code == 200
        self.count += 1
        return parse(response.text)


def post_predicts(url, csv, n, threads=3):
    """n POST /predict with a text/csv body, `threads` at a time; every answer must be 200."""
    def one(_):
        return requests.post(url + "/predict", data=csv, headers={"Content-Type": "text/csv"}, timeout=30)

    with ThreadPoolExecutor(threads) as pool:
        statuses = [r.status_code for r in pool.map(one, range(n))]
    assert statuses == [200] * n, statuses


def test_gunicorn_totals_are_exact_and_survive_a_killed_worker(tmp_path, csv_bytes):
    require_model()
    csv = csv_bytes(300)
    batch, batches, kill_after = 12, 4, 2
    with gunicorn_server(tmp_path, workers=3) as server:
        scrape = Scraper(server.url)
        first = scrape()
        # Before our traffic only the helper's readiness polls were answered.
        baseline = total(first, "http_requests_total")
        assert baseline == total(first, "http_requests_total", endpoint="/ready")
        previous = {"requests": baseline, "predictions": 0.0}
        sent = 0
        for i in range(batches):
            if i == kill_after:
                victim = server.worker_pids()[0]
                os.kill(victim, signal.SIGKILL)
                wait_for(lambda victim=victim: victim not in server.worker_pids() and len(server.worker_pids()) == 3,
                         what="gunicorn to replace the killed worker")
            post_predicts(server.url, csv, batch)
            sent += batch
            samples = scrape()
            answered = total(samples, "http_requests_total")
            predictions = total(samples, "model_predictions_total")
            # Monotonic, and exact: our predicts + the earlier scrapes (this one is counted after it answers).
            assert answered >= previous["requests"] and predictions >= previous["predictions"]
            assert predictions == sent
            assert total(samples, "http_requests_total", endpoint="/predict", status="200") == sent
            assert total(samples, "http_requests_total", endpoint="/metrics") == scrape.count - 1
            assert answered == baseline + sent + scrape.count - 1
            assert total(samples, "http_request_duration_seconds_count") == answered
            assert total(samples, "model_inference_duration_seconds_count") == sent
            previous = {"requests": answered, "predictions": predictions}

        # Process metrics: exactly one series per live worker (the killed one is gone, its successor is there).
        def process_pids_match():
            samples = scrape()
            live = {str(pid) for pid in server.worker_pids()}
            return samples if all(pids(samples, name) == live for name in PROCESS_SERIES) else None

        samples = wait_for(process_pids_match, what="process metrics of exactly the live workers")
        assert str(victim) not in pids(samples, "process_resident_memory_bytes")
        assert all(v > 10e6 for _, v in samples["process_resident_memory_bytes"])
        assert total(samples, "model_predictions_total") == sent
        assert total(samples, "model_prediction_errors_total", source="backtest", forecaster="lstm") > 0


def test_an_unwritable_multiprocess_dir_stops_the_server_naming_the_variable(tmp_path, monkeypatch):
    # As a container's tmpfs owned by root looks to uid 10001 (root, running the tests, may write anywhere).
    from app import metrics_multiprocess

    monkeypatch.setattr(metrics_multiprocess.os, "access", lambda path, mode: False)
    environ = {metrics_multiprocess.ENV_VAR: str(tmp_path / "multiproc")}
    with pytest.raises(SystemExit, match=r"PROMETHEUS_MULTIPROC_DIR=.*multiproc is not writable by uid \d+"):
        metrics_multiprocess.prepare_multiprocess_dir(environ)
