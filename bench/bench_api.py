"""POST /predict with a one-year CSV through gunicorn (2 workers): latency, throughput, start-up, memory.

Prints our server's figures beside a reference measured in the same run: a server that calls Keras
`model.predict` per request (bench/reference_keras_app.py), on the same machine and CSV; with --before DIR,
also the server of an earlier release unpacked in DIR.

Each server is started alone (for its start-up figures), then all run side by side and are measured in
interleaved rounds: one short measurement of each server after the other, repeated. This host's speed swings
by a factor of 2 or more from one minute to the next; interleaving puts every server through the same swings,
and the figures printed are medians over the rounds, with the range of the per-round ratios.

Latency: one client at a time, with Python's requests (as the earlier figures) and with wrk -c1 (a C client,
so the client's own cost weighs less). Throughput: wrk -t2 -c8, with the CPU time the server's processes
(master and workers) spent per request during it. wrk is the Debian package.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import pandas as pd
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.server import GUNICORN, free_port  # noqa: E402

CSV = pd.read_csv(ROOT / "downloadData/data/GSPC_data.csv").tail(252).to_csv(index=False).encode()


class Server:
    """One gunicorn server with 2 workers on a free port, its registry in a temporary directory."""

    def __init__(self, name, args, env=None, cwd=ROOT):
        self.name, self.args, self.env, self.cwd = name, args, env or {}, cwd
        self.rounds = {"requests_p50": [], "wrk_p50": [], "throughput": [], "cpu_ms": []}

    def __enter__(self):
        self._tmp = tempfile.TemporaryDirectory()
        tmp = Path(self._tmp.name)
        environ = dict(os.environ, HOST="127.0.0.1", PORT=str(free_port()), WEB_CONCURRENCY="2",
                       REGISTRY_PATH=str(tmp / "forecasts.sqlite3"), PROMETHEUS_MULTIPROC_DIR=str(tmp / "multiproc"),
                       **self.env)
        # A restart, the usual start in production: the registry exists (made by that release's own code).
        subprocess.run([sys.executable, "-c", "import sys; from app.monitoring.registry import ForecastRegistry; "
                        "ForecastRegistry.at_path(sys.argv[1]).dispose()", environ["REGISTRY_PATH"]],
                       cwd=self.cwd, check=True, capture_output=True)
        self.url = f"http://127.0.0.1:{environ['PORT']}"
        began = time.monotonic()
        self.proc = subprocess.Popen([GUNICORN, *self.args], cwd=self.cwd, env=environ, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        self.ready_s = None
        while True:
            try:
                if self.ready_s is None and requests.get(self.url + "/ready").ok:
                    self.ready_s = time.monotonic() - began
                if requests.post(self.url + "/predict", data=CSV, headers={"Content-Type": "text/csv"}).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.02)
        self.first_s = time.monotonic() - began
        # A server without /ready (the reference) is ready when it first answers a forecast.
        self.ready_s = self.ready_s if self.ready_s is not None else self.first_s
        return self

    def __exit__(self, *exc):
        self.proc.terminate()
        self.proc.wait()
        self._tmp.cleanup()

    def measure_round(self, requests_n, seconds):
        session = requests.Session()
        times = []
        for _ in range(requests_n):
            began = time.perf_counter()
            session.post(self.url + "/predict", data=CSV, headers={"Content-Type": "text/csv"}).raise_for_status()
            times.append((time.perf_counter() - began) * 1000)
        self.rounds["requests_p50"].append(statistics.median(times))
        self.rounds["wrk_p50"].append(wrk_p50_ms(self.url, seconds))
        processes = [str(self.proc.pid), *self.worker_pids()]
        cpu_before = cpu_ms(processes)
        rps, done = throughput(self.url, seconds)
        self.rounds["throughput"].append(rps)
        self.rounds["cpu_ms"].append((cpu_ms(processes) - cpu_before) / done)  # the server's CPU per request

    def worker_pids(self):
        return subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True).stdout.split()

    def worker_rss_mb(self):
        return [int(Path(f"/proc/{p}/status").read_text().split("VmRSS:")[1].split()[0]) / 1024
                for p in self.worker_pids()]

    def figure(self, key):
        return statistics.median(self.rounds[key])


def wrk(url, connections, seconds):
    """wrk's output for POST /predict with the CSV (one thread per connection, at most 2)."""
    if not shutil.which("wrk"):
        raise SystemExit("install wrk (apt-get install wrk) for the latency and throughput figures")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        body = CSV.decode().replace("\n", "\\n")
        script.write(f'wrk.method = "POST"\nwrk.body = "{body}"\n'
                     'wrk.headers["Content-Type"] = "text/csv"\n')
    threads = min(connections, 2)
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s",
                          script.name, url + "/predict"], capture_output=True, text=True).stdout
    errors = [text.strip() for text in out.splitlines() if "Non-2xx" in text or "Socket errors" in text]
    if errors:
        raise SystemExit(f"wrk saw errors at {url}: {errors}")
    return out


def throughput(url, seconds):
    """(requests per second, requests completed) with 8 connections."""
    out = wrk(url, 8, seconds)
    rps = float(next(text for text in out.splitlines() if text.startswith("Requests/sec")).split()[1])
    return rps, int(next(text for text in out.splitlines() if "requests in" in text).split()[0])


def cpu_ms(pids):
    """User and system CPU time used so far by the processes `pids`, in milliseconds."""
    ticks = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of proc(5))
    return ticks * 1000 / os.sysconf("SC_CLK_TCK")


def wrk_p50_ms(url, seconds):
    """p50 of one connection at a time with wrk, a C client: the server's latency without the Python client's."""
    out = wrk(url, 1, seconds)
    value = next(text.split()[1] for text in out.splitlines() if text.strip().startswith("50%"))
    for unit, scale in (("us", 1e-3), ("ms", 1.0), ("s", 1e3)):
        if value.endswith(unit):
            return float(value[:-len(unit)]) * scale
    raise ValueError(f"unreadable wrk latency {value!r}")


def ratio_range(ours, other, key):
    """Per-round ratios ours/other for `key`: (median, min, max)."""
    ratios = [a / b for a, b in zip(ours.rounds[key], other.rounds[key], strict=True)]
    return statistics.median(ratios), min(ratios), max(ratios)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved measurement rounds")
    parser.add_argument("--requests", type=int, default=100, help="sequential requests per round (Python client)")
    parser.add_argument("--seconds", type=int, default=3, help="wrk duration per round, for each wrk figure")
    parser.add_argument("--before", type=Path, metavar="DIR",
                        help="also measure the server of an earlier release unpacked in DIR (e.g. git archive REV | "
                             "tar -x -C DIR)")
    args = parser.parse_args(argv)
    print(f"POST /predict, one-year CSV ({len(CSV)} bytes), gunicorn 2 workers, {os.cpu_count()} cores, "
          f"{args.rounds} interleaved rounds")
    config = ["-c", "app/gunicorn_conf.py"]
    servers = [Server("ours", config)]
    if args.before:
        servers.append(Server("earlier release", config, cwd=args.before))
    servers.append(Server("reference (Keras model.predict)", [*config, "bench.reference_keras_app:app"],
                          {"TF_CPP_MIN_LOG_LEVEL": "3"}))
    with ExitStack() as stack:
        for server in servers:  # one at a time, so each start-up is timed alone
            stack.enter_context(server)
        for _ in range(args.rounds):
            for server in servers:
                slow = server.name.startswith("reference")
                server.measure_round(max(args.requests // 5, 10) if slow else args.requests, args.seconds)
        for server in servers:
            rss = server.worker_rss_mb()
            print(f"{server.name:<32} p50 {server.figure('requests_p50'):7.2f} ms (wrk -c1 "
                  f"{server.figure('wrk_p50'):6.2f} ms)  {server.figure('throughput'):7.1f} req/s "
                  f"(CPU {server.figure('cpu_ms'):.2f} ms a request)  ready after "
                  f"{server.ready_s:4.2f} s, first forecast after {server.first_s:4.2f} s  worker RSS "
                  f"{', '.join(f'{r:.0f}' for r in rss)} MB")
            server.rss = max(rss)
    ours = servers[0]
    for other in servers[1:]:
        parts = []
        for key, label in (("requests_p50", "p50"), ("wrk_p50", "p50 wrk -c1"), ("throughput", "throughput"),
                           ("cpu_ms", "CPU per request")):
            mid, low, high = ratio_range(ours, other, key)
            parts.append(f"{label} {mid:.3f} ({low:.3f}-{high:.3f})")
        print(f"ratios ours/{other.name}, median (range) over rounds: {', '.join(parts)}; worker RSS "
              f"{ours.rss / other.rss:.2f}")


if __name__ == "__main__":
    main()
