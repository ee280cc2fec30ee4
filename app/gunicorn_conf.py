"""The one gunicorn configuration, used by `make run`, the tests that start a server and the Docker image."""
import os

from app.config import settings_from_env

# One BLAS thread per worker: the LSTM's matrices are tiny, and workers already fill the cores.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

_settings = settings_from_env()

wsgi_app = "app.wsgi:app"
bind = f"{_settings['HOST']}:{_settings['PORT']}"
workers = _settings["WEB_CONCURRENCY"]
worker_class = "sync"
timeout = 30
graceful_timeout = 10
keepalive = 5
accesslog = "-"
# gunicorn's default access line plus the answer's X-Request-ID, the id the front proxy logs too.
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" request_id=%({x-request-id}o)s'
errorlog = "-"
loglevel = "info"
# No control socket: it lives at one path under $HOME, shared by every server (tests, make run) on a machine.
control_socket_disable = True
# Each worker loads the model and opens the registry itself at start-up (never per request): no app state is
# shared across fork. The libraries are imported here, once, in the master: a worker forked from it (at start or
# replacing a killed one) skips about 1 s of imports and is ready sooner. prometheus_client is not among them: it
# reads PROMETHEUS_MULTIPROC_DIR when imported, and on_starting sets that first.
preload_app = False
import flask  # noqa: E402, F401
import h5py  # noqa: E402, F401
import onnxruntime  # noqa: E402, F401 - importing it starts no thread; sessions are made per worker
import pandas  # noqa: E402, F401
import sqlalchemy  # noqa: E402, F401


def post_worker_init(worker):
    """Build the exchange calendar most forecasts use while the worker already answers (app/trading_days.py)."""
    from app.trading_days import warm_in_background

    warm_in_background()


# --- Prometheus multiprocess metrics (owner: metrics; helpers in app/metrics_multiprocess.py) ----------------
# Every worker writes its metrics to files in PROMETHEUS_MULTIPROC_DIR and /metrics merges them, so a scrape
# counts the requests of all workers. The master sets the variable (a temporary directory when unset) and
# empties it before forking, so workers inherit it and no count survives from a previous run; a worker that
# exits is marked dead so its per-process gauges go while its counts stay in the totals.
from app import metrics_multiprocess as _metrics_multiprocess  # noqa: E402 - imports no prometheus_client

_temporary_multiproc_dir = []


def on_starting(server):
    """Prepare an empty multiprocess directory before any worker starts."""
    path, created = _metrics_multiprocess.prepare_multiprocess_dir()
    if created:
        _temporary_multiproc_dir.append(path)
    server.log.info("Prometheus multiprocess directory: %s", path)


def child_exit(server, worker):
    """Drop the exited worker's live gauges (process metrics); its counters stay."""
    _metrics_multiprocess.worker_exited(worker.pid)


def on_exit(server):
    """Remove the multiprocess directory if it was a temporary one made at start."""
    for path in _temporary_multiproc_dir:
        _metrics_multiprocess.remove_multiprocess_dir(path)
# --- end of Prometheus multiprocess metrics ----------------------------------------------------------------
