"""The nginx front against gunicorn alone, in one run: other clients' latency during stalled uploads, and
throughput.

1. Eight clients open an upload to /predict, send its first line and stall. Meanwhile another client asks for
   /health and a forecast. Directly against gunicorn's two sync workers, and through nginx
   (Docker/nginx/templates) in front of the same server.
2. POST /predict throughput with wrk (Debian package), direct and through nginx, alternated twice. The /predict
   rate limit is raised for this part only: it measures the proxy's cost, not the limit.
"""
import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from bench_api import CSV, throughput  # noqa: E402

from tests.nginx import nginx_server, stall_upload  # noqa: E402
from tests.server import gunicorn_server  # noqa: E402

STALLED = 8


def other_clients(url, timeout):
    """Time /health and a forecast sent together while the uploads stall: {name: (ms or None, status)}."""
    results = {}

    def call(name, send):
        began = time.perf_counter()
        try:
            status = send().status_code
            results[name] = ((time.perf_counter() - began) * 1000, status)
        except requests.RequestException as exc:
            results[name] = (None, type(exc).__name__)

    calls = [threading.Thread(target=call, args=("/health", lambda: requests.get(url + "/health", timeout=timeout))),
             threading.Thread(target=call, args=("forecast", lambda: requests.post(
                 url + "/predict", data=CSV, headers={"Content-Type": "text/csv"}, timeout=timeout)))]
    for thread in calls:
        thread.start()
    for thread in calls:
        thread.join()
    return results


def during_stalls(url, timeout):
    stalled = [stall_upload(url) for _ in range(STALLED)]
    try:
        time.sleep(0.5)
        return other_clients(url, timeout)
    finally:
        for sock in stalled:
            sock.close()


def show(label, results):
    cells = [f"{name} {'timed out' if ms is None else f'{ms:,.0f} ms'} ({status})"
             for name, (ms, status) in results.items()]
    print(f"{label:<28} " + ", ".join(cells))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="each throughput run")
    parser.add_argument("--stall-timeout", type=float, default=150.0, help="client timeout during the stalls")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name in ("api", "api2"):
            (tmp / name).mkdir()
        with gunicorn_server(tmp / "api", workers=2) as api:
            upstream = [api.url.split("//")[1]]
            with nginx_server(tmp / "nginx", upstream) as nginx:
                print(f"{STALLED} stalled uploads, other clients' latency (gunicorn: 2 sync workers, 30 s timeout)")
                show("through nginx", during_stalls(nginx.url, args.stall_timeout))
            show("gunicorn alone", during_stalls(api.url, args.stall_timeout))

        with gunicorn_server(tmp / "api2", workers=2) as api, \
                nginx_server(tmp / "nginx2", [api.url.split("//")[1]], NGINX_PREDICT_RATE="100000r/s",
                             NGINX_PREDICT_BURST="100000") as nginx:
            print(f"\nPOST /predict throughput, wrk 2 threads 8 connections, {args.seconds} s each, alternated")
            figures = {"direct": [], "nginx": []}
            for _ in range(2):
                for name, url in (("direct", api.url), ("nginx", nginx.url)):
                    rate, errors = throughput(url, args.seconds)
                    figures[name].append(rate)
                    print(f"  {name:<7} {rate:7.1f} req/s {' '.join(errors)}")
            direct, proxied = (sum(v) / len(v) for v in (figures["direct"], figures["nginx"]))
            print(f"mean: direct {direct:.1f} req/s, through nginx {proxied:.1f} req/s "
                  f"(ratio nginx/direct {proxied / direct:.2f})")


if __name__ == "__main__":
    main()
