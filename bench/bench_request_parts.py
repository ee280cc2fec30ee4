"""Where a POST /predict spends its time in process: the whole request, and each step's share.

Sends the one-year CSV through Flask's test client (no HTTP) to an app with its own registry and prints the p50
of the request (wall, and the answer's processing_time_ms), then profiles the same requests and prints each
step's share of the forecast service's time. The profiler slows Python code more than compiled code, so the
shares are a guide to where the time goes, not timings; the p50s are measured without it.

To compare with another version of the code, alternate runs on this checkout and on the other one (unpacked
with `git archive REV | tar -x -C DIR`; the step shares are printed for the steps that version has):

    .venv/bin/python bench/bench_request_parts.py [--requests 300] [--app-dir DIR]
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CSV = pd.read_csv(ROOT / "downloadData/data/GSPC_data.csv").tail(252).to_csv(index=False).encode()
# The steps of app/forecast_service.run_forecast, by the function that does each (module path, function name).
STEPS = {
    "parse the CSV": ("app/csv_input.py", "parse_price_csv"),
    "champion: forecast and backtest in one pass, with intervals": ("app/predictor.py", "forecast_with_backtest"),
    "challengers' shadow forecasts": ("app/forecast_service.py", "shadow_forecasts"),
    "registration (one transaction)": ("app/forecast_service.py", "_register"),
    "backtest error metrics": ("app/forecast_service.py", "_record_backtest_errors"),
    "next trading sessions": ("app/trading_days.py", "next_sessions"),
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--app-dir", type=Path, default=ROOT, help="the checkout whose app to measure")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(args.app_dir.resolve()))
    os.chdir(args.app_dir)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.update(REGISTRY_PATH=str(Path(tmp) / "forecasts.sqlite3"),
                          PROMETHEUS_MULTIPROC_DIR=str(Path(tmp) / "multiproc"))
        os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"])
        from app import create_app

        client = create_app().test_client()

        def post():
            response = client.post("/predict", data=CSV, headers={"Content-Type": "text/csv"})
            assert response.status_code in (200, 201), response.get_data(as_text=True)
            return response.json["processing_time_ms"]

        for _ in range(50):  # warm: calendars, caches, the registry's pages
            post()
        wall, processing = [], []
        for _ in range(args.requests):
            began = time.perf_counter()
            processing.append(post())
            wall.append((time.perf_counter() - began) * 1000)
        print(f"POST /predict in process, {args.requests} requests: p50 {statistics.median(wall):.3f} ms through "
              f"Flask, {statistics.median(processing):.3f} ms in the forecast service (processing_time_ms)")

        profile = cProfile.Profile()
        profile.enable()
        for _ in range(args.requests):
            post()
        profile.disable()
    # {(file, line, function): (calls, primitive calls, tottime, cumtime, {caller: (.., .., tottime, cumtime)})}
    stats = pstats.Stats(profile).stats

    def key(file, name):
        return next((k for k in stats if k[2] == name and k[0].endswith(file)), None)

    service = key("app/forecast_service.py", "run_forecast")
    total = stats[service][3]
    print("share of the forecast service's time under the profiler (each step as called by the service):")
    for label, (file, name) in STEPS.items():
        step = key(file, name)
        share = "n/a" if step is None else f"{stats[step][4].get(service, (0, 0, 0, 0.0))[3] / total:.1%}"
        print(f"  {label:<62} {share:>6}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
