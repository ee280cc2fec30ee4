"""Shared fixtures: an isolated app per test, its client, and real price history from the shipped data."""
import io
import multiprocessing
from pathlib import Path

import pandas as pd
import pytest

from app import create_app
from app.services import services_of

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_CSV = ROOT / "downloadData" / "data" / "GSPC_data.csv"


@pytest.fixture(scope="session")
def gspc_frame():
    """The shipped S&P 500 history as Yahoo's CSV layout (Date column first)."""
    return pd.read_csv(SAMPLE_CSV)


@pytest.fixture
def csv_bytes(gspc_frame):
    """CSV bytes of the last `rows` days of the shipped S&P 500 history (one trading year by default)."""
    def make(rows=252, frame=None):
        return (gspc_frame if frame is None else frame).tail(rows).to_csv(index=False).encode()
    return make


@pytest.fixture
def app(tmp_path):
    """A fresh app with its own forecast registry in a temporary folder (closed after the test)."""
    app = create_app({"TESTING": True, "REGISTRY_PATH": str(tmp_path / "forecasts.sqlite3"),
                      "DATABASE_URL": "", "MONITORING_TOKEN": ""})
    yield app
    services_of(app).registry.close()


@pytest.fixture
def registry(tmp_path):
    """A forecast registry in a temporary SQLite file (test files may define their own)."""
    from app.monitoring.registry import ForecastRegistry

    reg = ForecastRegistry.at_path(str(tmp_path / "forecasts.sqlite3"))
    yield reg
    reg.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


def post_file(client, data, filename="GSPC_data.csv", **fields):
    """POST /predict with `data` as the multipart field `file` (the browser form's way), plus form fields."""
    return client.post("/predict", data={"file": (io.BytesIO(data), filename), **fields},
                       content_type="multipart/form-data")


def run_processes(target, arg_tuples, timeout=120):
    """Run target(*args) in one process per tuple, all at once; return their exit codes."""
    # spawn, not fork: other tests leave registries whose checkpoint threads may hold SQLite's locks at fork time.
    context = multiprocessing.get_context("spawn")
    procs = [context.Process(target=target, args=args) for args in arg_tuples]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout)
    return [proc.exitcode for proc in procs]


@pytest.fixture(autouse=True)
def _fresh_seeded_generator(request):
    """A test module with SEED and RNG starts each test from a new generator of that seed: tests run in random
    order, and one shared generator would hand each test different draws, and so different figures, per order."""
    module = request.module
    if hasattr(module, "SEED") and hasattr(module, "RNG"):
        import numpy as np

        module.RNG = np.random.default_rng(module.SEED)
