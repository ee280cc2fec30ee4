"""Background WAL checkpoints for SQLite, so a request that writes a forecast never waits for an fsync.

With SQLite's automatic checkpoints the commit that crosses 1000 WAL pages copies them into
the database and fsyncs it, inside the request: 20-170 ms on this project's disks, several percent of 30-day
registrations (bench/bench_registry.py). Connections therefore turn automatic checkpoints off and each
writing process runs a daemon thread that checkpoints in PASSIVE mode (never blocks writers).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading

log = logging.getLogger(__name__)

CHECKPOINT_INTERVAL_S = 1.0
# After a checkpoint lets SQLite restart the WAL, it truncates the file to this size.
JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024


class WalCheckpointer:
    """One daemon thread per process that checkpoints the WAL of `path` every `interval` seconds."""

    def __init__(self, path: str, interval: float | None = None):
        self.path = path
        self.interval = CHECKPOINT_INTERVAL_S if interval is None else interval
        self._pid = None
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def ensure_running(self) -> None:
        """Start the thread in this process if it is not running (forked workers start their own)."""
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid == os.getpid():
                return
            self._stop = threading.Event()
            thread = threading.Thread(target=self._run, args=(self._stop,), name="sqlite-wal-checkpoint",
                                      daemon=True)
            thread.start()
            self._pid = os.getpid()

    def stop(self) -> None:
        """Ask this process's thread to end (it finishes its current checkpoint)."""
        self._stop.set()
        self._pid = None

    def checkpoint(self, conn: sqlite3.Connection) -> tuple[int, int, int]:
        """One PASSIVE checkpoint: (busy, wal frames, frames checkpointed)."""
        return tuple(conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone())

    def _run(self, stop: threading.Event) -> None:
        conn = None
        try:
            conn = sqlite3.connect(self.path, timeout=0.1, isolation_level=None, check_same_thread=False)
            while not stop.wait(self.interval):
                try:
                    self.checkpoint(conn)
                except sqlite3.Error as exc:  # another process is checkpointing, or the file went away
                    log.debug("WAL checkpoint of %s skipped: %s", self.path, exc)
        except sqlite3.Error as exc:
            log.warning("WAL checkpoint thread for %s ended: %s", self.path, exc)
        finally:
            if conn is not None:
                conn.close()

