"""What shadowing costs the user: POST /predict with the champion alone vs with its challenger shadowing.

Runs the real app in-process (Flask test client, SQLite registry in a temporary folder) and interleaves the two
set-ups request by request, so the machine's load affects both alike; prints medians, p95 and their ratios for
a 1-day and a 30-day horizon. Each request sends a different history, so every forecast is really registered.
"""
import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from app import create_app  # noqa: E402
from app.model_lineup import ModelLineup  # noqa: E402
from app.services import services_of  # noqa: E402

HISTORY = pd.read_csv(ROOT / "downloadData" / "data" / "GSPC_data.csv")


def csv(i):
    end = len(HISTORY) - 1 - i
    return HISTORY.iloc[end - 252:end].to_csv(index=False).encode()


def p95(values):
    return sorted(values)[int(0.95 * (len(values) - 1))]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=150, help="requests per set-up and horizon")
    args = parser.parse_args(argv)
    app = create_app({"REGISTRY_PATH": str(Path(tempfile.mkdtemp()) / "forecasts.sqlite3"), "BACKTEST_DAYS": 20})
    services = services_of(app)
    shadowed = services.lineup
    champion = shadowed.current().champion
    alone = ModelLineup({champion.version: champion}, champion.version)
    client = app.test_client()
    print(f"champion {champion.version}, challengers {[c.version for c in shadowed.current().challengers]}")
    request_number = 0
    for horizon in (1, 30):
        times = {"alone": [], "shadowed": []}
        for _ in range(args.n):
            for name, lineup in (("alone", alone), ("shadowed", shadowed)):
                services.lineup = lineup
                request_number += 1
                began = time.perf_counter()
                response = client.post(f"/predict?horizon={horizon}&ticker=BENCH", data=csv(request_number),
                                       content_type="text/csv")
                times[name].append((time.perf_counter() - began) * 1000)
                assert response.status_code == 200, response.get_json()
        a, s = times["alone"], times["shadowed"]
        print(f"horizon {horizon:2}: champion alone median {statistics.median(a):6.2f} ms, p95 {p95(a):6.2f} ms | "
              f"with 1 challenger median {statistics.median(s):6.2f} ms, p95 {p95(s):6.2f} ms | "
              f"ratio median {statistics.median(s) / statistics.median(a):.2f}, p95 {p95(s) / p95(a):.2f}")
    services.lineup = shadowed
    services.registry.close()


if __name__ == "__main__":
    main()
