"""Time to serve /metrics from gunicorn with 4 workers, and the scrape size (goal: under 50 ms).

    python bench/bench_metrics.py [--workers 4] [--scrapes 200] [--restarts 8]

Starts `gunicorn -c app/gunicorn_conf.py` on a free loopback port, sends traffic so that every route has
series, then times sequential scrapes. Then kills workers one at a time (gunicorn replaces them; each dead
worker leaves its counter files behind, which every scrape still reads) and times the scrapes again. Finally
the cost of recording one request in multiprocess mode (mmap writes), measured in a separate process.
"""
import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.server import GUNICORN, free_port  # noqa: E402 - needs the repository root on sys.path

SAMPLE_CSV = ROOT / "downloadData" / "data" / "GSPC_data.csv"


class Gunicorn:
    """`gunicorn -c app/gunicorn_conf.py` on a free loopback port, with its own multiprocess directory."""

    def __init__(self, tmp_path, workers):
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.multiproc_dir = tmp_path / "prom_multiproc"
        env = dict(os.environ, HOST="127.0.0.1", PORT=str(port), WEB_CONCURRENCY=str(workers),
                   REGISTRY_PATH=str(tmp_path / "forecasts.sqlite3"), PROMETHEUS_MULTIPROC_DIR=str(self.multiproc_dir))
        self.log = open(tmp_path / "gunicorn.log", "wb")  # noqa: SIM115 - gunicorn writes to it until stop()
        self.process = subprocess.Popen([GUNICORN, "-c", "app/gunicorn_conf.py"], cwd=ROOT, env=env,
                                        stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # booting workers may hold the first requests for seconds
            try:
                if requests.get(self.url + "/health", timeout=10).ok and len(self.worker_pids()) == workers:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"gunicorn did not start; see {tmp_path / 'gunicorn.log'}")

    def worker_pids(self):
        out = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True).stdout
        return [int(pid) for pid in out.split()]

    def stop(self):
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=30)
        self.log.close()


def wait_for_replacement(server, victim, workers, timeout=60):
    """Until the killed worker is gone and every live worker has booted (written its process gauges)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        live = server.worker_pids()
        booted = {int(p.stem.rsplit("_", 1)[1]) for p in server.multiproc_dir.glob("gauge_liveall_*.db")}
        if victim not in live and len(live) == workers and booted == set(live):
            return
        time.sleep(0.1)
    raise RuntimeError("gunicorn did not replace the killed worker in time")


def send_traffic(url, predicts=40):
    """Forecasts, a few other routes and some unknown paths, so the scrape has realistic series."""
    csv = "".join(SAMPLE_CSV.read_text().splitlines(True)[:1] + SAMPLE_CSV.read_text().splitlines(True)[-300:])
    statuses = {}
    for i in range(predicts):
        r = requests.post(url + "/predict", data=csv.encode(), headers={"Content-Type": "text/csv"},
                          params={"horizon": 1 + i % 30}, timeout=30)
        statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
    for path in ("/health", "/ready", "/model", "/openapi.json", "/", "/no/such/page", "/monitoring/performance"):
        requests.get(url + path, timeout=30)
    requests.post(url + "/predict", data=b"not,a,csv", headers={"Content-Type": "text/csv"}, timeout=30)
    return statuses


def time_scrapes(url, n):
    """Latencies (ms) of n sequential scrapes, the last body's size and its number of sample lines."""
    latencies, body = [], b""
    for _ in range(n):
        started = time.perf_counter()
        response = requests.get(url + "/metrics", timeout=30)
        latencies.append((time.perf_counter() - started) * 1000)
        body = response.content
    samples = sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))
    return latencies, len(body), samples


def report(label, latencies, size, samples, files):
    q = statistics.quantiles(latencies, n=100)
    print(f"{label:<34} p50 {q[49]:6.2f} ms  p95 {q[94]:6.2f} ms  max {max(latencies):6.2f} ms  "
          f"size {size / 1024:6.1f} KiB  samples {samples:5d}  files {files:3d}")
    return q[49]


RECORDING_SCRIPT = textwrap.dedent("""
    import time
    from flask import Flask
    from app import metrics
    m = metrics.init_app(Flask("bench"))
    n = 20000
    started = time.perf_counter()
    for i in range(n):
        m.observe_request("POST", "/predict", "200", 0.004)
    per_request = (time.perf_counter() - started) / n
    started = time.perf_counter()
    for i in range(n):
        m.observe_inference(0.0004)
    per_inference = (time.perf_counter() - started) / n
    print(f"{per_request * 1e6:.2f} {per_inference * 1e6:.2f}")
""")


def recording_cost(multiproc_dir):
    """Microseconds to record one request (counter + histogram) and one inference, in multiprocess mode."""
    env = dict(os.environ, PROMETHEUS_MULTIPROC_DIR=str(multiproc_dir), PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", RECORDING_SCRIPT], env=env, cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout.split()
    return float(out[0]), float(out[1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--scrapes", type=int, default=200)
    parser.add_argument("--restarts", type=int, default=8, help="workers killed (and replaced) before re-timing")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        server = Gunicorn(tmp_path, args.workers)
        try:
            statuses = send_traffic(server.url)
            print(f"gunicorn with {args.workers} workers; /predict answers by status: {statuses}")
            time_scrapes(server.url, 5)  # warm-up: every worker has imported and sampled itself
            files = len(list(server.multiproc_dir.glob("*.db")))
            p50 = report("/metrics, fresh server", *time_scrapes(server.url, args.scrapes), files)

            for _ in range(args.restarts):
                victim = server.worker_pids()[0]
                os.kill(victim, signal.SIGKILL)
                wait_for_replacement(server, victim, args.workers)
            send_traffic(server.url, predicts=10)
            time_scrapes(server.url, 5)
            files = len(list(server.multiproc_dir.glob("*.db")))
            p50_after = report(f"/metrics, after {args.restarts} worker restarts",
                               *time_scrapes(server.url, args.scrapes), files)
        finally:
            server.stop()

    with tempfile.TemporaryDirectory() as tmp:
        per_request, per_inference = recording_cost(tmp)
    print(f"recording one request (counter + histogram, mmap): {per_request:.2f} us; "
          f"one inference observation: {per_inference:.2f} us")
    print(f"goal /metrics p50 < 50 ms: {'met' if p50 < 50 else 'MISSED'} ({p50:.2f} ms fresh, "
          f"{p50_after:.2f} ms after restarts, ratio {p50_after / p50:.2f})")


if __name__ == "__main__":
    main()
