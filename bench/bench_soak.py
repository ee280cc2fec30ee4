"""Soak: POST /predict through gunicorn (2 workers) for a bounded time with good and bad CSVs from a few threads.

Every good request is a new forecast (its own ticker-and-window of the shipped histories), so each one must be
registered. Prints throughput, p50/p99, counts by status, each worker's resident memory, then PASS/FAIL for: no
5xx, worker memory growth under 10 % (from the end of the warm-up), http_requests_total equal to the requests
answered, every good forecast registered, every bad input refused with its 4xx. Exit status 1 on any FAIL.

    .venv/bin/python bench/bench_soak.py --seconds 600
"""
import argparse
import itertools
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import pandas as pd
import requests
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.server import gunicorn_server  # noqa: E402

SOURCES = {name: pd.read_csv(ROOT / "downloadData" / "data" / f"{name}_data.csv") for name in ("GSPC", "MSFT")}
TICKERS = [(f"{source}{k}" if k else source, source) for source in SOURCES for k in range(10)]
LIMIT_MB = 1  # the soak server's MAX_UPLOAD_MB: an oversized request then costs 1.3 MB instead of 11 MB


MAX_ROWS = 350
# Distinct good requests available: each ticker's windows end one trading day earlier every time.
GOOD_CAPACITY = len(TICKERS) * (min(len(frame) for frame in SOURCES.values()) - MAX_ROWS)


def good_request(i):
    """The i-th good request: a ticker, its own window of real closes (ending a day earlier each time), a horizon."""
    ticker, source = TICKERS[i % len(TICKERS)]
    frame = SOURCES[source]
    end = len(frame) - i // len(TICKERS)
    rows = 150 + (i * 37) % (MAX_ROWS - 150)
    csv = frame.iloc[end - rows:end].to_csv(index=False).encode()
    horizon = 1 + (i * 7) % 30
    return dict(data={"ticker": ticker, "horizon": str(horizon)}, files={"file": (f"{ticker}_data.csv", csv)}), horizon


def bad_requests():
    """(name, request arguments, expected status): the ways a client gets an upload wrong."""
    good = SOURCES["GSPC"].tail(200)
    csv = good.to_csv(index=False)

    def upload(text, name="GSPC_data.csv", **fields):
        return dict(data=fields, files={"file": (name, text if isinstance(text, bytes) else text.encode())})

    oversized = pd.concat([SOURCES["MSFT"]] * 2).to_csv(index=False).encode()
    oversized += oversized[: int(1.3 * LIMIT_MB * 2**20) - len(oversized)] if len(oversized) < 1.3 * 2**20 else b""
    return [
        ("empty_body", dict(data=b"", headers={"Content-Type": "text/csv"}), 400),
        ("binary", dict(data=bytes(random.Random(1).randrange(256) for _ in range(5000)),
                        headers={"Content-Type": "text/csv"}), 400),
        ("html_page", upload("<html><body><h1>Not a CSV</h1></body></html>\n"), 415),
        ("no_close_column", upload(good[["Date", "Open"]].to_csv(index=False)), 400),
        ("too_few_rows", upload(good.tail(20).to_csv(index=False)), 400),
        ("blank_closes", upload(good.assign(Close="").to_csv(index=False)), 400),
        ("negative_prices", upload(good.assign(Close=-good["Close"]).to_csv(index=False)), 400),
        ("unreadable_dates", upload(good.assign(Date="someday").to_csv(index=False)), 400),
        ("bad_horizon", upload(csv, horizon="99"), 400),
        ("invalid_ticker", upload(csv, ticker="<script>"), 400),
        ("wrong_content_type", dict(data=csv.encode(), headers={"Content-Type": "application/xml"}), 415),
        ("nothing_sent", dict(json={}), 400),
        ("oversized", dict(data=oversized, headers={"Content-Type": "text/csv"}), 413),
    ]


def worker_rss_mb(server):
    """{pid: resident memory in MB} of the live workers, from /proc."""
    out = {}
    for pid in server.worker_pids():
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        out[pid] = int(status.split("VmRSS:")[1].split()[0]) / 1024
    return out


def scrape(url):
    """{(sample name, labels)}: value of the counters on /metrics."""
    text = requests.get(url + "/metrics", timeout=30).text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for f in text_string_to_metric_families(text)
            if f.type == "counter" for s in f.samples if s.name.endswith("_total")}


def total(samples, name, **labels):
    return sum(v for (n, lab), v in samples.items() if n == name and all(dict(lab).get(k) == w
                                                                         for k, w in labels.items()))


def run_load(url, seconds, max_requests, threads, bad_share, seed):
    """Drive the server from `threads` clients; returns the list of answers and the elapsed time."""
    bad = bad_requests()
    indexes, good_indexes = itertools.count(), itertools.count()
    records, deadline, started = [], time.monotonic() + seconds, time.monotonic()

    def client(number):
        rng = random.Random(seed * 1000 + number)
        session = requests.Session()
        while time.monotonic() < deadline and next(indexes) < max_requests:
            if rng.random() < bad_share:
                name, kwargs, expected = rng.choice(bad)
                kind, horizon = "bad", None
            else:
                kwargs, horizon = good_request(next(good_indexes))
                name, kind, expected = "good", "good", 200
            began = time.perf_counter()
            try:
                response = session.post(url + "/predict", timeout=60, **kwargs)
                status, body = response.status_code, response.json()
            except (requests.RequestException, ValueError) as exc:
                status, body = f"error:{type(exc).__name__}", {}
                session = requests.Session()
            records.append(dict(kind=kind, name=name, expected=expected, status=status, horizon=horizon,
                                ms=(time.perf_counter() - began) * 1000, request_id=body.get("request_id"),
                                registered=body.get("registered")))

    workers = [threading.Thread(target=client, args=(n,)) for n in range(threads)]
    for thread in workers:
        thread.start()
    return workers, records, started


def registered_rows(path):
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        return dict(conn.execute("SELECT request_id, COUNT(*) FROM forecasts GROUP BY request_id"))


def percentile(values, q):
    return statistics.quantiles(values, n=100)[q - 1] if len(values) >= 2 else (values[0] if values else 0.0)


def report(records, elapsed, rss, before, after, rows, log):
    """Print the figures and one PASS/FAIL line per goal; returns True when every goal passed."""
    answered = [r for r in records if isinstance(r["status"], int)]
    good = [r for r in answered if r["kind"] == "good"]
    print(f"requests {len(records)} in {elapsed:.1f} s: {len(answered) / elapsed:.1f} answered/s; "
          f"good {len(good)}, bad {len(answered) - len(good)}, client errors {len(records) - len(answered)}")
    for kind in ("good", "bad"):
        ms = [r["ms"] for r in answered if r["kind"] == kind]
        if ms:
            print(f"  {kind:<4} p50 {statistics.median(ms):7.1f} ms  p99 {percentile(ms, 99):7.1f} ms  "
                  f"max {max(ms):7.1f} ms")
    ms = [r["ms"] for r in answered]
    print(f"  all  p50 {statistics.median(ms):7.1f} ms  p99 {percentile(ms, 99):7.1f} ms")
    print("status counts:", dict(sorted(Counter(str(r["status"]) for r in records).items())))
    print("bad inputs:", dict(sorted(Counter(f"{r['name']}->{r['status']}" for r in records
                                             if r["kind"] == "bad").items())))
    print(f"worker RSS MB at boot {rss['boot']}, after warm-up {rss['warm']}, end {rss['end']}, "
          f"max seen {rss['max']}")
    results = []

    def goal(name, ok, detail):
        results.append(ok)
        print(f"{'PASS' if ok else 'FAIL'} {name}: {detail}")

    server_errors = [r for r in answered if r["status"] >= 500]
    goal("no 5xx", not server_errors and len(answered) == len(records),
         f"{len(server_errors)} answers >= 500, {len(records) - len(answered)} requests without an answer")
    same_workers = set(rss["warm"]) == set(rss["end"])
    growth = {pid: rss["end"][pid] / rss["warm"][pid] - 1 for pid in rss["end"] if pid in rss["warm"]}
    from_boot = {pid: rss["end"][pid] / rss["boot"][pid] - 1 for pid in rss["end"] if pid in rss["boot"]}
    goal("worker memory growth < 10 %", same_workers and all(g < 0.10 for g in growth.values()),
         ", ".join(f"pid {pid} {100 * g:+.1f} %" for pid, g in growth.items()) + " after warm-up ("
         + ", ".join(f"{100 * g:+.1f} %" for g in from_boot.values()) + " from boot, before any request)"
         + ("" if same_workers else "; workers were replaced during the run"))
    sent = total(after, "http_requests_total") - total(before, "http_requests_total") - 1  # the first scrape
    def predict_answers(status):
        return (total(after, "http_requests_total", endpoint="/predict", status=status)
                - total(before, "http_requests_total", endpoint="/predict", status=status))

    goal("http_requests_total == requests answered", sent == len(answered),
         f"counter rose by {sent:.0f} (first scrape excluded), clients got {len(answered)} answers; /predict by "
         f"status: " + ", ".join(f"{s} {predict_answers(s):.0f}" for s in sorted({str(r['status']) for r in answered})))
    ok_good = [r for r in good if r["status"] == 200]
    missing = [r for r in ok_good if not r["registered"] or rows.get(r["request_id"]) != r["horizon"]]
    expected_rows = sum(r["horizon"] for r in ok_good)
    counted = total(after, "forecasts_registered_total") - total(before, "forecasts_registered_total")
    goal("every good forecast registered", not missing and len(ok_good) == len(good)
         and sum(rows.values()) == expected_rows == counted,
         f"{len(ok_good)}/{len(good)} good answers 200, {len(missing)} not in the registry; rows "
         f"{sum(rows.values())} (expected {expected_rows}), forecasts_registered_total +{counted:.0f}")
    wrong = Counter(r["name"] for r in answered if r["kind"] == "bad" and r["status"] != r["expected"])
    goal("bad inputs refused with their 4xx", not wrong, f"unexpected statuses: {dict(wrong)}" if wrong else
         f"{len(answered) - len(good)} bad requests, each with its expected status")
    restarts = log.count("Booting worker") - 2
    goal("no worker restart or traceback", restarts == 0 and "Traceback" not in log,
         f"{restarts} restarts, {log.count('Traceback')} tracebacks in the gunicorn log")
    return all(results)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=600, help="soak duration (default 600)")
    parser.add_argument("--max-requests", type=int, default=100000, help="stop earlier after this many requests")
    parser.add_argument("--threads", type=int, default=4, help="client threads (default 4)")
    parser.add_argument("--bad-share", type=float, default=0.3, help="share of bad requests (default 0.3)")
    parser.add_argument("--warmup", type=float, default=None, help="seconds before the memory baseline "
                                                                   "(default 5 %% of the run, at least 5 s)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    if args.max_requests * (1 - args.bad_share) * 1.05 > GOOD_CAPACITY:
        parser.error(f"at most about {GOOD_CAPACITY} distinct good requests exist: lower --max-requests")
    warmup = args.warmup if args.warmup is not None else max(5.0, 0.05 * args.seconds)
    print(f"soak: POST /predict, gunicorn 2 workers, {args.threads} client threads, {args.seconds:.0f} s, "
          f"bad share {args.bad_share}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp, \
            gunicorn_server(Path(tmp), workers=2, env={"MAX_UPLOAD_MB": str(LIMIT_MB)}) as server:
        rss = {"boot": worker_rss_mb(server)}
        before = scrape(server.url)
        threads, records, started = run_load(server.url, args.seconds, args.max_requests, args.threads,
                                             args.bad_share, args.seed)
        peak, timeline = Counter(), []
        while any(t.is_alive() for t in threads):
            time.sleep(1.0)
            current = worker_rss_mb(server)
            timeline.append((time.monotonic() - started, sum(current.values())))
            if "warm" not in rss and time.monotonic() - started >= warmup:
                rss["warm"] = current
            for pid, mb in current.items():
                peak[pid] = max(peak[pid], mb)
        elapsed = time.monotonic() - started
        rss.setdefault("warm", rss["boot"])
        rss["end"], rss["max"] = worker_rss_mb(server), dict(peak)
        rss["timeline"] = [timeline[int(k * (len(timeline) - 1) / 10)] for k in range(11)] if timeline else []
        after = scrape(server.url)
        rows = registered_rows(Path(tmp) / "forecasts.sqlite3")
        log = server.log()
    timeline = rss.pop("timeline")
    rss = {k: {pid: round(mb, 1) for pid, mb in v.items()} for k, v in rss.items()}
    print("workers' RSS summed, MB, every tenth of the run: "
          + ", ".join(f"{t:.0f} s {mb:.1f}" for t, mb in timeline))
    passed = report(records, elapsed, rss, before, after, rows, log)
    print(f"load average at the end {os.getloadavg()[0]:.2f}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
