"""What exchange calendars cost a worker: import, first calendar, memory, and a forecast's date lookup.

Each figure is measured in a fresh Python process (so nothing is cached), beside the cost of loading the app
without them in the same run; the ratios are what to read on a loaded machine.
"""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = r"""
import json, time, datetime as dt
def rss_mb():
    return int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**20
out = {}
t = time.perf_counter()
from app import create_app
app = create_app({"TESTING": True, "REGISTRY_PATH": "/tmp/bench_trading_days.sqlite3"})
out["app_start_s"] = time.perf_counter() - t
out["rss_app_mb"] = rss_mb()
t = time.perf_counter()
import exchange_calendars
out["import_s"] = time.perf_counter() - t
out["rss_import_mb"] = rss_mb()
from app import trading_days
t = time.perf_counter()
trading_days.next_sessions("MSFT", dt.date(2017, 11, 10), 10)
out["first_xnys_s"] = time.perf_counter() - t
out["rss_xnys_mb"] = rss_mb()
t = time.perf_counter()
for name in ("VOD.L", "PETR4.SA", "SAP.DE", "7203.T"):
    trading_days.next_sessions(name, dt.date(2017, 11, 10), 10)
out["four_more_s"] = time.perf_counter() - t
out["rss_five_mb"] = rss_mb()
t = time.perf_counter()
for _ in range(200):
    trading_days.next_sessions("MSFT", dt.date(2017, 11, 10), 30)
out["lookup_ms"] = (time.perf_counter() - t) / 200 * 1000
print(json.dumps(out))
"""


def main(runs=3):
    results = []
    for _ in range(runs):
        done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, check=True)
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    best = {key: min(r[key] for r in results) for key in results[0]}
    print(f"app start without calendars: {best['app_start_s']:.2f} s, RSS {best['rss_app_mb']:.0f} MB")
    grown = best["rss_import_mb"] - best["rss_app_mb"]
    print(f"import exchange_calendars:   {best['import_s']:.2f} s "
          f"({best['import_s'] / best['app_start_s']:.2f} x app start), +{grown:.1f} MB")
    print(f"first XNYS calendar (1970 to +2 years): {best['first_xnys_s']:.2f} s, "
          f"+{best['rss_xnys_mb'] - best['rss_import_mb']:.1f} MB")
    print(f"four more calendars (XLON, BVMF, XETR, XTKS): {best['four_more_s']:.2f} s, "
          f"+{best['rss_five_mb'] - best['rss_xnys_mb']:.1f} MB")
    print(f"30 forecast dates from a cached calendar: {best['lookup_ms']:.3f} ms")
    print(f"worker RSS with five calendars: {best['rss_five_mb']:.0f} MB")


if __name__ == "__main__":
    main()
