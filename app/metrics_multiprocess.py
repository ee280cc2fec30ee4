"""Gunicorn hooks for Prometheus multiprocess mode: one clean directory per server run, dead workers marked.

prometheus_client picks its storage (memory or per-process files) when first imported, so the master must set
PROMETHEUS_MULTIPROC_DIR before any worker imports it; this module therefore imports prometheus_client only
inside `worker_exited`, which runs after the variable is set.
"""
import os
import shutil
import tempfile

ENV_VAR = "PROMETHEUS_MULTIPROC_DIR"


def prepare_multiprocess_dir(environ=None):
    """on_starting: make sure the directory exists and holds no files of a previous run.

    Returns (path, created): `created` is True when no directory was configured and a temporary one was made,
    which the caller removes at exit. The variable is set in `environ` so the forked workers inherit it.
    """
    environ = os.environ if environ is None else environ
    path = environ.get(ENV_VAR)
    created = not path
    if created:
        path = tempfile.mkdtemp(prefix="prometheus-multiproc-")
    os.makedirs(path, exist_ok=True)
    if not os.access(path, os.W_OK | os.X_OK):
        # Fail once, naming the setting, instead of every worker crashing on its first metric file.
        raise SystemExit(
            f"{ENV_VAR}={path} is not writable by uid {os.getuid()}; make it writable "
            "(in Docker: a tmpfs with uid=, gid= or mode= options) or point the variable elsewhere"
        )
    for name in os.listdir(path):
        if name.endswith(".db"):  # only prometheus_client's files; anything else in the directory stays
            os.remove(os.path.join(path, name))
    environ[ENV_VAR] = path
    return path, created


def worker_exited(pid, path=None):
    """child_exit: drop the exited worker's live gauges; its counters and histograms stay in the totals."""
    from prometheus_client.multiprocess import mark_process_dead

    mark_process_dead(pid, path)


def remove_multiprocess_dir(path):
    """on_exit: remove a temporary directory made by prepare_multiprocess_dir."""
    shutil.rmtree(path, ignore_errors=True)
