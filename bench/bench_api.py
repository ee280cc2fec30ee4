"""POST /predict with a one-year CSV through gunicorn (2 workers): latency, throughput, start-up, memory.

Prints our server's figures beside a reference measured in the same run: a server that calls Keras
`model.predict` per request (bench/reference_keras_app.py), on the same machine and CSV.
Latency: one client at a time, with Python's requests (as the figures before) and with wrk -c1 (a C client, so
the client's own cost weighs less). Throughput: wrk -t2 -c8. wrk is the Debian package.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.server import GUNICORN, free_port  # noqa: E402

CSV = pd.read_csv(ROOT / "downloadData/data/GSPC_data.csv").tail(252).to_csv(index=False).encode()


def start(args, env, tmp, cwd=ROOT):
    port = free_port()
    environ = dict(os.environ, HOST="127.0.0.1", PORT=str(port), WEB_CONCURRENCY="2",
                   REGISTRY_PATH=str(Path(tmp) / "forecasts.sqlite3"),
                   PROMETHEUS_MULTIPROC_DIR=str(Path(tmp) / "multiproc"), **env)
    # A restart, the usual start in production: the registry exists (made by that release's own code).
    subprocess.run([sys.executable, "-c", "import sys; from app.monitoring.registry import ForecastRegistry; "
                    "ForecastRegistry.at_path(sys.argv[1]).dispose()", environ["REGISTRY_PATH"]],
                   cwd=cwd, check=True, capture_output=True)
    began = time.monotonic()
    proc = subprocess.Popen([GUNICORN, *args], cwd=cwd, env=environ, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    ready_s = None
    while True:
        try:
            if ready_s is None and requests.get(url + "/ready").ok:
                ready_s = time.monotonic() - began
            if requests.post(url + "/predict", data=CSV, headers={"Content-Type": "text/csv"}).ok:
                break
        except requests.ConnectionError:
            time.sleep(0.02)
    # A server without /ready (the reference) is ready when it first answers a forecast.
    return proc, url, time.monotonic() - began if ready_s is None else ready_s, time.monotonic() - began


def latencies(url, n):
    session = requests.Session()
    out = []
    for _ in range(n):
        began = time.perf_counter()
        session.post(url + "/predict", data=CSV, headers={"Content-Type": "text/csv"}).raise_for_status()
        out.append((time.perf_counter() - began) * 1000)
    return out


def wrk(url, connections, seconds):
    """wrk's output for POST /predict with the CSV (one thread per connection, at most 2)."""
    if not shutil.which("wrk"):
        raise SystemExit("install wrk (apt-get install wrk) for the throughput figure")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        body = CSV.decode().replace("\n", "\\n")
        script.write(f'wrk.method = "POST"\nwrk.body = "{body}"\n'
                     'wrk.headers["Content-Type"] = "text/csv"\n')
    threads = min(connections, 2)
    return subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s",
                           script.name, url + "/predict"], capture_output=True, text=True).stdout


def throughput(url, seconds):
    out = wrk(url, 8, seconds)
    line = next(text for text in out.splitlines() if text.startswith("Requests/sec"))
    errors = [text.strip() for text in out.splitlines() if "Non-2xx" in text or "Socket errors" in text]
    return float(line.split()[1]), errors


def wrk_p50_ms(url, seconds):
    """p50 of one connection at a time with wrk, a C client: the server's latency without the Python client's."""
    out = wrk(url, 1, seconds)
    value = next(text.split()[1] for text in out.splitlines() if text.strip().startswith("50%"))
    for unit, scale in (("us", 1e-3), ("ms", 1.0), ("s", 1e3)):
        if value.endswith(unit):
            return float(value[:-len(unit)]) * scale
    raise ValueError(f"unreadable wrk latency {value!r}")


def worker_rss_mb(proc):
    pids = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
    return [int(Path(f"/proc/{p}/status").read_text().split("VmRSS:")[1].split()[0]) / 1024 for p in pids]


def measure(name, args, env, n, seconds, cwd=ROOT):
    with tempfile.TemporaryDirectory() as tmp:
        proc, url, ready_s, first_s = start(args, env, tmp, cwd)
        try:
            lat = latencies(url, n)
            c_p50 = wrk_p50_ms(url, max(3, seconds // 2))
            rps, errors = throughput(url, seconds)
            rss = worker_rss_mb(proc)
        finally:
            proc.terminate()
            proc.wait()
    p50, p99 = statistics.median(lat), statistics.quantiles(lat, n=100)[98]
    print(f"{name:<34} p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  p50 with wrk -c1 {c_p50:6.2f} ms  {rps:7.1f} req/s  "
          f"ready after {ready_s:4.2f} s, "
          f"first forecast after {first_s:4.2f} s  worker RSS {', '.join(f'{r:.0f}' for r in rss)} MB "
          f"{' '.join(errors)}")
    return p50, rps, max(rss), c_p50


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=300, help="sequential requests for latency")
    parser.add_argument("--seconds", type=int, default=15, help="wrk duration for throughput")
    parser.add_argument("--before", type=Path, metavar="DIR",
                        help="also measure the server of an earlier release unpacked in DIR (e.g. git archive REV | "
                             "tar -x -C DIR), before and after ours, for a before/after in one run")
    args = parser.parse_args(argv)
    print(f"POST /predict, one-year CSV ({len(CSV)} bytes), gunicorn 2 workers, {os.cpu_count()} cores")
    server = ["-c", "app/gunicorn_conf.py"]
    if args.before:
        before = measure("earlier release", server, {}, args.requests, args.seconds, args.before)
    ours = measure("ours", server, {}, args.requests, args.seconds)
    if args.before:
        again = measure("earlier release, again", server, {}, args.requests, args.seconds, args.before)
        print(f"ratios ours/earlier release: p50 {ours[0] / statistics.mean([before[0], again[0]]):.3f} "
              f"(wrk -c1: {ours[3] / statistics.mean([before[3], again[3]]):.3f}), "
              f"throughput {ours[1] / statistics.mean([before[1], again[1]]):.2f}x")
    ref = measure("reference (Keras model.predict)",
                  ["-c", "app/gunicorn_conf.py", "bench.reference_keras_app:app"],
                  {"TF_CPP_MIN_LOG_LEVEL": "3"}, max(args.requests // 5, 30), args.seconds)
    print(f"ratios ours/reference: p50 {ours[0] / ref[0]:.3f} (wrk -c1: {ours[3] / ref[3]:.3f}), "
          f"throughput {ours[1] / ref[1]:.1f}x, "
          f"worker RSS {ours[2] / ref[2]:.2f}")


if __name__ == "__main__":
    main()
