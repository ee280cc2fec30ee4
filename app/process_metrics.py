"""Process and GC metrics of every gunicorn worker in multiprocess mode, where the default collectors vanish.

prometheus_client's ProcessCollector and GCCollector describe the process that answers the scrape, so the
multiprocess registry leaves them out (one random worker's figures would be wrong for the others). Here each
worker copies its own figures into 'liveall' gauges: one file per pid, deleted by mark_process_dead when the
worker exits, so the series carry a `pid` label bounded by the live workers. The copy is refreshed at most once
a second after a request and on every scrape the worker answers; an idle worker keeps its last figures, which
an idle process barely changes. The exposition re-types the cumulative ones (CPU, GC) as counters.
"""
import gc
import os
import time

from prometheus_client import CollectorRegistry, Gauge, GCCollector, PlatformCollector, ProcessCollector, values
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector

from app.metrics_multiprocess import ENV_VAR

# Sample name -> help, as prometheus_client's ProcessCollector names them.
PROCESS_SAMPLES = {
    "process_cpu_seconds_total": "Total user and system CPU time spent in seconds, per worker.",
    "process_resident_memory_bytes": "Resident memory size in bytes, per worker.",
    "process_virtual_memory_bytes": "Virtual memory size in bytes, per worker.",
    "process_start_time_seconds": "Start time of the worker since unix epoch in seconds.",
    "process_open_fds": "Number of open file descriptors, per worker.",
    "process_max_fds": "Maximum number of open file descriptors, per worker.",
}
GC_SAMPLES = {  # sample name -> (gc.get_stats() key, help)
    "python_gc_objects_collected_total": ("collected", "Objects collected during gc, per worker."),
    "python_gc_objects_uncollectable_total": ("uncollectable", "Uncollectable objects found during GC."),
    "python_gc_collections_total": ("collections", "Number of times this generation was collected."),
}
CUMULATIVE_SAMPLES = frozenset({"process_cpu_seconds_total", *GC_SAMPLES})


def multiprocess_dir():
    """The multiprocess directory if multiprocess mode is on, else None; fails fast on a half-configured setup."""
    path = os.environ.get(ENV_VAR)
    multiprocess_values = getattr(values.ValueClass, "_multiprocess", False)
    if path and not multiprocess_values:
        raise RuntimeError(f"{ENV_VAR} was set after prometheus_client was imported; set it before the "
                           "process starts (the gunicorn config does this for its workers)")
    if not path:
        if multiprocess_values:
            raise RuntimeError(f"{ENV_VAR} was unset after prometheus_client was imported in multiprocess mode")
        return None
    if not os.path.isdir(path):
        raise RuntimeError(f"{ENV_VAR}={path} is not a directory; create it or unset the variable")
    return path


def register_default_collectors(registry):
    """Add the single-process collectors (process, GC, platform) to `registry`."""
    ProcessCollector(registry=registry)
    GCCollector(registry=registry)
    PlatformCollector(registry=registry)


def multiprocess_registry(path):
    """A registry exposing every worker's files in `path`, with process/GC counters typed as counters."""
    registry = CollectorRegistry()
    registry.register(_CounterRetypingCollector(MultiProcessCollector(registry=None, path=path)))
    PlatformCollector(registry=registry)  # identical for every worker, so reading it here is right
    return registry


class _CounterRetypingCollector:
    """Wraps MultiProcessCollector: the per-worker copies of cumulative figures are exported as counters."""

    def __init__(self, inner):
        self._inner = inner

    def collect(self):
        for metric in self._inner.collect():
            if metric.type == "gauge" and metric.name in CUMULATIVE_SAMPLES:
                counter = Metric(metric.name[: -len("_total")], metric.documentation, "counter")
                counter.samples = metric.samples
                metric = counter
            yield metric


class WorkerProcessMetrics:
    """This worker's process and GC figures, copied into multiprocess 'liveall' gauges."""

    def __init__(self, min_interval=1.0, clock=time.monotonic):
        self._source = ProcessCollector(registry=None)
        self._min_interval = min_interval
        self._clock = clock
        self._last_update = None
        self._process = {name: Gauge(name, doc, registry=None, multiprocess_mode="liveall")
                         for name, doc in PROCESS_SAMPLES.items()}
        self._gc = {name: Gauge(name, doc, ("generation",), registry=None, multiprocess_mode="liveall")
                    for name, (_, doc) in GC_SAMPLES.items()}

    def update(self):
        """Copy the current figures of this process into the gauges."""
        self._last_update = self._clock()
        for family in self._source.collect():
            for sample in family.samples:
                gauge = self._process.get(sample.name)
                if gauge is not None:
                    gauge.set(sample.value)
        for generation, stats in enumerate(gc.get_stats()):
            for name, (key, _) in GC_SAMPLES.items():
                self._gc[name].labels(str(generation)).set(stats[key])

    def maybe_update(self):
        """Update unless the last update is younger than `min_interval` seconds (keeps requests cheap)."""
        if self._last_update is None or self._clock() - self._last_update >= self._min_interval:
            self.update()
