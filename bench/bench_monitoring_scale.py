"""The monitoring report at scale: a registry of N forecasts, the report's latency, and validation's throughput.

Builds (or reuses) a registry with the app's schema and a realistic mix: 20 tickers, horizons 1-30, made on
every weekday of two years, about 70% validated, with their realised closes. Then it times the performance
report (all tickers; one ticker at a time; one version; a 90-day period) and the registration and validation of
fresh forecasts. The last line is JSON: {"rows", "report_p50_ms", "report_ticker_p50_ms", "report_version_p50_ms",
"report_period_p50_ms", "register_p50_ms", "validate_rows_per_s", "db_bytes"}.

    .venv/bin/python bench/bench_monitoring_scale.py --rows 1000000 [--db /tmp/registry-1m.sqlite3] [--keep]
    .venv/bin/python bench/bench_monitoring_scale.py --rows 1000000 --url postgresql+psycopg://user@host/db

A SQLite file given with --db is reused when it already holds the rows (building 10 million takes minutes);
without --keep a file the bench created is deleted at the end.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import func, insert, select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.monitoring.performance import performance_report  # noqa: E402
from app.monitoring.prices import UploadedActualsSource  # noqa: E402
from app.monitoring.registry import ForecastRegistry  # noqa: E402
from app.monitoring.storage import actuals, forecasts, sqlite_url  # noqa: E402
from app.monitoring.validation import validate_pending_forecasts  # noqa: E402

try:  # roll-ups exist from this release on; the bench also runs on the release before, to compare
    from app.monitoring.rollups import rebuild as rebuild_rollups
except ImportError:
    rebuild_rollups = None

TODAY = dt.date(2026, 11, 30)
TICKERS = [f"TK{i:02d}" for i in range(20)]
MAX_HORIZON = 30
VALIDATED_SHARE = 0.72  # of the forecasts whose target date has passed (the others wait for a close)
SHADOW_SHARE = 0.25  # rows that are a challenger's shadow forecasts (role challenger, another version)
CHUNK = 200_000
PERIOD_REPEAT = 11  # timed reports of one version, and of a 90-day period
FRESH_FORECASTS = 2_000  # registered and validated by each run (30 steps each); --fresh changes it


def trading_days() -> pd.DatetimeIndex:
    return pd.bdate_range(TODAY - dt.timedelta(days=730), TODAY + dt.timedelta(days=60))


def price_paths(days: pd.DatetimeIndex) -> np.ndarray:
    """One random-walk close per ticker and trading day, (tickers, days)."""
    rng = np.random.default_rng(7)
    return 100 * np.exp(np.cumsum(rng.normal(0.0003, 0.012, (len(TICKERS), len(days))), axis=1))


def forecast_chunk(start: int, n: int, days: pd.DatetimeIndex, closes: np.ndarray, made_limit: int) -> list[dict]:
    """Rows start..start+n of the synthetic registry, as dicts for an executemany INSERT."""
    rng = np.random.default_rng(start)
    ticker = rng.integers(0, len(TICKERS), n)
    made = rng.integers(0, made_limit, n)
    horizon = rng.integers(1, MAX_HORIZON + 1, n)
    target = made + horizon
    predicted = closes[ticker, made] * np.exp(rng.normal(0, 0.012 * np.sqrt(horizon)))
    actual, last_close = closes[ticker, target], closes[ticker, made]
    past = days[target].date < TODAY
    validated = past & (rng.random(n) < VALIDATED_SHARE)
    abs_error, naive_abs = np.abs(predicted - actual), np.abs(last_close - actual)
    drift = last_close * np.exp(0.0003 * horizon)  # the drift baseline's forecast
    drift_abs = np.abs(drift - actual)
    inside_80 = (actual >= predicted * 0.97) & (actual <= predicted * 1.03)
    inside_95 = (actual >= predicted * 0.95) & (actual <= predicted * 1.05)
    shadow = rng.random(n) < SHADOW_SHARE  # a challenger's shadow forecasts beside the champion's
    made_dates, target_dates = days[made].date, days[target].date
    created = [dt.datetime.combine(d, dt.time(21), dt.UTC) for d in made_dates]
    rows = []
    for i in range(n):
        v = bool(validated[i])
        rows.append({
            "ticker": TICKERS[ticker[i]], "made_at": made_dates[i], "target_date": target_dates[i],
            "horizon_step": int(horizon[i]), "predicted": float(predicted[i]),
            "lower_80": float(predicted[i] * 0.97), "upper_80": float(predicted[i] * 1.03),
            "lower_95": float(predicted[i] * 0.95), "upper_95": float(predicted[i] * 1.05),
            "last_close": float(last_close[i]), "drift": float(drift[i]),
            "model_version": "1.1.0" if shadow[i] else "1.0.0", "role": "challenger" if shadow[i] else "champion",
            "request_id": f"{start + i:032x}",
            "input_hash": f"{start + i:032x}", "created_at": created[i],
            "status": "validated" if v else "pending",
            "actual": float(actual[i]) if v else None, "actual_date": target_dates[i] if v else None,
            "abs_error": float(abs_error[i]) if v else None,
            "ape": float(100 * abs_error[i] / actual[i]) if v else None,
            "naive_abs_error": float(naive_abs[i]) if v else None,
            "naive_ape": float(100 * naive_abs[i] / actual[i]) if v else None,
            "drift_abs_error": float(drift_abs[i]) if v else None,
            "drift_ape": float(100 * drift_abs[i] / actual[i]) if v else None,
            "inside_80": int(inside_80[i]) if v else None, "inside_95": int(inside_95[i]) if v else None,
            "validated_at": created[i] + dt.timedelta(days=int(horizon[i]) + 1) if v else None,
        })
    return rows


def build(registry: ForecastRegistry, n: int) -> None:
    """Fill an empty registry with n forecasts and the closes they are validated against."""
    days = trading_days()
    closes = price_paths(days)
    made_limit = int(np.searchsorted(days, pd.Timestamp(TODAY))) - 1  # forecasts made up to yesterday
    started = time.monotonic()
    with registry.engine.begin() as conn:
        indexes = list(forecasts.indexes)
        for index in indexes:  # loading without the secondary indexes, then indexing once, is much faster
            index.drop(conn)
    for start in range(0, n, CHUNK):
        rows = forecast_chunk(start, min(CHUNK, n - start), days, closes, made_limit)
        with registry.engine.begin() as conn:
            conn.execute(insert(forecasts), rows)
        truncate_wal(registry)
        print(f"  {start + len(rows):,} rows after {time.monotonic() - started:.0f} s", file=sys.stderr)
    known = days[days.date < TODAY]
    with registry.engine.begin() as conn:
        for index in indexes:
            index.create(conn)
        conn.execute(insert(actuals), [{"ticker": t, "date": d.date(), "close": float(closes[k, j])}
                                       for k, t in enumerate(TICKERS) for j, d in enumerate(known)])
        if rebuild_rollups is not None:
            rebuild_rollups(conn)
    truncate_wal(registry)
    print(f"  built in {time.monotonic() - started:.0f} s", file=sys.stderr)


def truncate_wal(registry: ForecastRegistry) -> None:
    """Copy a SQLite registry's write-ahead log into the database and empty it (bulk loads grow it by gigabytes)."""
    if registry.engine.dialect.name == "sqlite":
        registry.engine.dispose()
        with sqlite3.connect(registry.engine.url.database) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def timed_ms(fn, repeat: int) -> list[float]:
    out = []
    for i in range(repeat):
        began = time.perf_counter()
        fn(i)
        out.append((time.perf_counter() - began) * 1000)
    return out


def register_and_validate(registry: ForecastRegistry, fresh: int = FRESH_FORECASTS) -> tuple[float, float]:
    """Register `fresh` 30-day forecasts made a week ago (per-call ms), then validate the due steps."""
    days = trading_days()
    made = days[days.date < TODAY - dt.timedelta(days=7)][-1]
    targets = pd.bdate_range(made + pd.Timedelta(days=1), periods=MAX_HORIZON)
    tag = uuid.uuid4().hex[:16]
    rng = np.random.default_rng()

    def register(i):
        rows = [{"date": d.date(), "close": float(100 * rng.lognormal(0, 0.01)), "lower_80": 90.0, "upper_80": 110.0,
                 "lower_95": 80.0, "upper_95": 120.0} for d in targets]
        registry.register_forecasts(TICKERS[i % len(TICKERS)], made.date(), 100.0, rows, "1.0.0", None, f"{tag}{i}")

    register_ms = statistics.median(timed_ms(register, fresh))
    began = time.perf_counter()
    result = validate_pending_forecasts(registry, UploadedActualsSource(registry), days_back=7, today=TODAY)
    seconds = time.perf_counter() - began
    print(f"  validation: {result.summary()} in {seconds:.2f} s", file=sys.stderr)
    return register_ms, result.validated / seconds


def db_bytes(registry: ForecastRegistry, path: str | None) -> int:
    if path:
        return sum(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p))
    with registry.engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one())


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, required=True, help="forecast rows in the registry")
    parser.add_argument("--db", help="SQLite file to build or reuse (default: a temporary file, deleted)")
    parser.add_argument("--url", help="a PostgreSQL URL instead (an empty database, or one this bench filled)")
    parser.add_argument("--keep", action="store_true", help="keep the SQLite file the bench built")
    parser.add_argument("--repeat", type=int, default=21, help="timed reports of all tickers")
    parser.add_argument("--fresh", type=int, default=FRESH_FORECASTS, help="new 30-day forecasts to validate")
    args = parser.parse_args(argv)

    path = None if args.url else (args.db or os.path.join(tempfile.mkdtemp(), "registry.sqlite3"))
    existed = bool(path) and os.path.exists(path)
    registry = ForecastRegistry(args.url or sqlite_url(path))
    try:
        with registry.engine.connect() as conn:
            present = conn.execute(select(func.count()).select_from(forecasts)).scalar_one()
        if present < args.rows:
            if present:
                raise SystemExit(f"the registry holds {present:,} forecasts, fewer than --rows: use an empty one")
            print(f"building a registry of {args.rows:,} forecasts ...", file=sys.stderr)
            build(registry, args.rows)
        else:
            print(f"reusing a registry of {present:,} forecasts", file=sys.stderr)
        performance_report(registry, today=TODAY)  # warm the page cache, as a running server's would be
        report_ms = timed_ms(lambda i: performance_report(registry, today=TODAY), args.repeat)
        ticker_ms = timed_ms(lambda i: performance_report(registry, today=TODAY, ticker=TICKERS[i % len(TICKERS)]),
                             len(TICKERS))
        version_ms = timed_ms(lambda i: performance_report(registry, today=TODAY, model_version="1.1.0"),
                              PERIOD_REPEAT)
        period = (TODAY - dt.timedelta(days=90), TODAY - dt.timedelta(days=1))
        period_ms = timed_ms(lambda i: performance_report(registry, today=TODAY, period=period), PERIOD_REPEAT)
        print(f"  report of version 1.1.0 p50 {statistics.median(version_ms):.1f} ms; report of a 90-day period p50 "
              f"{statistics.median(period_ms):.1f} ms", file=sys.stderr)
        register_ms, validate_rate = register_and_validate(registry, args.fresh)
        truncate_wal(registry)
        report = performance_report(registry, today=TODAY)
        print(f"  {report['validated']:,} validated, {report['pending']:,} pending; MAPE "
              f"{report['metrics']['mape']:.3f}%; report p50 {statistics.median(report_ms):.1f} ms, max "
              f"{max(report_ms):.1f} ms; one ticker p50 {statistics.median(ticker_ms):.1f} ms; registering a "
              f"30-day forecast p50 {register_ms:.2f} ms", file=sys.stderr)
        summary = {"rows": args.rows, "report_p50_ms": round(statistics.median(report_ms), 2),
                   "report_ticker_p50_ms": round(statistics.median(ticker_ms), 2),
                   "report_version_p50_ms": round(statistics.median(version_ms), 2),
                   "report_period_p50_ms": round(statistics.median(period_ms), 2),
                   "register_p50_ms": round(register_ms, 3),
                   "validate_rows_per_s": round(validate_rate), "db_bytes": db_bytes(registry, path)}
    finally:
        registry.dispose()
        if path and not existed and not args.keep:
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(path + suffix):
                    os.remove(path + suffix)
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
