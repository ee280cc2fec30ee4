"""Validate pending forecasts against realised closes and record their errors."""
from __future__ import annotations

import datetime as dt
import logging
import math
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field

import pandas as pd

from app.monitoring.prices import PriceSourceError
from app.monitoring.registry import ForecastRegistry, as_date
from app.monitoring.tickers import UNKNOWN_TICKER
from app.trading_days import WEEKDAYS, session_on_or_after

log = logging.getLogger(__name__)

# Without a known exchange calendar (weekdays), the longest run of calendar days without a session we accept (a
# long weekend plus a holiday or two). A longer gap in a price series is missing data: the forecast stays pending.
MAX_CLOSE_GAP_DAYS = 5
# The widest days_back accepted: a century means "everything" (replaying the shipped historical data).
MAX_DAYS_BACK = 36500


@dataclass
class ValidationResult:
    """What one validation run did."""

    days_back: int
    today: str
    due: int = 0  # pending forecasts whose target date fell in the window
    validated: int = 0
    still_pending: int = 0  # due, but no realised close found yet
    skipped_unknown: int = 0  # ticker UNKNOWN: nobody can say which stock's close to compare with
    deferred: int = 0  # not looked up: the run's time budget was spent (part of still_pending)
    pending_total: int = 0  # all pending forecasts after this run
    by_source: dict = field(default_factory=dict)
    errors: list = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        """One line for logs and the CLI."""
        used = ", ".join(f"{k}={v}" for k, v in self.by_source.items()) or "none"
        return (f"validated {self.validated} of {self.due} due forecasts (last {self.days_back} days, sources: "
                f"{used}); still pending {self.still_pending}, unknown ticker {self.skipped_unknown}; "
                f"pending in total {self.pending_total}; source errors {len(self.errors)}"
                + (f"; {self.deferred} deferred to the next run (time budget)" if self.deferred else ""))


def validate_pending_forecasts(registry: ForecastRegistry, price_source, days_back: int = 7,
                               today=None, time_budget_s: float | None = None, metrics=None) -> ValidationResult:
    """Validate pending forecasts whose target date is in [today - days_back, today - 1].

    Rule for the realised close: a forecast for target date T is compared with the close of the first
    trading day on or after T. When T had no session (weekend, exchange holiday) that is the NEXT trading
    day's close, which is the price a holder of the forecast would next see. Trading days come from the
    ticker's exchange calendar (app.trading_days, as the forecast dates did): a series without a close on that
    session is missing data, not a closure. Without a known calendar, a close more than MAX_CLOSE_GAP_DAYS
    after T is treated as missing data. Only closes strictly before `today` count
    (today's session may still be open, and yfinance then reports a live price as the day's close).

    Errors: abs_error = |predicted - actual|, ape = 100 * abs_error / actual; the naive (persistence)
    forecast is the last close before the forecast was made, scored the same way.
    `price_source` is one source or a ChainSource; sources are tried in order per ticker. With
    `time_budget_s`, no source is asked anything once that many seconds have passed (an HTTP request must
    finish before the worker timeout); the tickers left over stay pending for the next run.
    `metrics` (app.metrics.ApiMetrics) receive the validated errors and the run; None records nothing.
    """
    today = dt.date.today() if today is None else as_date(today)
    result = ValidationResult(days_back=int(days_back), today=today.isoformat())
    due = registry.pending(since=today - dt.timedelta(days=int(days_back)), until=today - dt.timedelta(days=1))
    result.due = len(due)

    by_ticker = defaultdict(list)
    for row in due:
        if row["ticker"] == UNKNOWN_TICKER:
            result.skipped_unknown += 1
        else:
            by_ticker[row["ticker"]].append(row)

    updates = []
    sources = list(getattr(price_source, "sources", [price_source]))
    deadline = None if time_budget_s is None else time.monotonic() + time_budget_s
    for ticker, rows in by_ticker.items():
        remaining = rows
        for source in sources:
            if not remaining:
                break
            if deadline is not None and time.monotonic() > deadline:
                result.deferred += len(remaining)
                break
            start = min(as_date(r["target_date"]) for r in remaining)
            end = min(max(latest_close_date(ticker, r["target_date"]) for r in remaining),
                      today - dt.timedelta(days=1))
            try:
                closes = source.closes(ticker, start, end)
            except PriceSourceError as exc:
                result.errors.append(f"{source.name} {ticker}: {exc}")
                log.warning("price source %s failed for %s: %s", source.name, ticker, exc)
                continue
            found, remaining = _match_closes(ticker, remaining, closes, today)
            for update in found:
                update["source"] = source.name
            updates.extend(found)

    done = set(registry.mark_validated(updates)) if updates else set()
    validated = [u for u in updates if u["id"] in done]
    for update in validated:
        result.by_source[update["source"]] = result.by_source.get(update["source"], 0) + 1
    result.validated = len(validated)
    result.still_pending = result.due - result.skipped_unknown - len(updates)
    result.pending_total = registry.counts()["pending"]
    if metrics is not None:
        _update_metrics(metrics, validated, result.pending_total)
    return result


def latest_close_date(ticker: str, target) -> dt.date:
    """The last date whose close may validate a forecast for `target`: its exchange's first session on or
    after it, or MAX_CLOSE_GAP_DAYS later when the exchange's calendar is not known."""
    target = as_date(target)
    session, calendar = session_on_or_after(ticker, target)
    return target + dt.timedelta(days=MAX_CLOSE_GAP_DAYS) if calendar == WEEKDAYS else session


def _match_closes(ticker: str, rows: list[dict], closes: pd.Series,
                  today: dt.date) -> tuple[list[dict], list[dict]]:
    """Pair each forecast with its realised close (next trading day rule); return (updates, unmatched)."""
    closes = closes[closes.index < pd.Timestamp(today)].sort_index()
    updates, unmatched = [], []
    for row in rows:
        target = pd.Timestamp(as_date(row["target_date"]))
        position = closes.index.searchsorted(target)  # first close on or after the target date
        if position >= len(closes) or closes.index[position].date() > latest_close_date(ticker, target):
            unmatched.append(row)
            continue
        actual = float(closes.iloc[position])
        updates.append(_errors(row, actual, closes.index[position].date()))
    return updates, unmatched


def _errors(row: dict, actual: float, actual_date: dt.date) -> dict:
    """Error fields of one forecast against its realised close: the model's, the naive's and the drift's
    errors, and whether the close fell inside the 80% and 95% intervals."""
    abs_error = abs(row["predicted"] - actual)
    naive, drift = row.get("last_close"), row.get("drift")
    naive_abs = None if naive is None else abs(naive - actual)
    drift_abs = None if drift is None else abs(drift - actual)
    return {
        "id": row["id"], "predicted": row["predicted"], "last_close": naive, "drift": drift,
        "model_version": row["model_version"], "role": row["role"], "horizon_step": row.get("horizon_step"),
        "lower_80": row.get("lower_80"), "upper_80": row.get("upper_80"),
        "actual": actual, "actual_date": actual_date,
        "abs_error": abs_error, "ape": 100.0 * abs_error / actual,
        "naive_abs_error": naive_abs, "naive_ape": None if naive_abs is None else 100.0 * naive_abs / actual,
        "drift_abs_error": drift_abs, "drift_ape": None if drift_abs is None else 100.0 * drift_abs / actual,
        "inside_80": _inside(row.get("lower_80"), row.get("upper_80"), actual),
        "inside_95": _inside(row.get("lower_95"), row.get("upper_95"), actual),
    }


def _inside(lower, upper, actual: float) -> int | None:
    """1 when lower <= actual <= upper, 0 outside, None when the forecast has no such interval."""
    if lower is None or upper is None:
        return None
    return int(lower <= actual <= upper)


def _update_metrics(metrics, validated: list[dict], pending_total: int) -> None:
    """Feed the validated errors and the run to Prometheus."""
    metrics.models.record_validated(validated)
    served = [u for u in validated if u["role"] != "challenger"]  # the lstm series are the answers users got
    if served:
        # No last_close (a forecast registered from elsewhere without it) -> NaN: metrics skips such rows,
        # so the lstm and naive series always cover the same forecasts.
        metrics.record_errors("validated", [u["predicted"] for u in served], [u["actual"] for u in served],
                              [math.nan if u["last_close"] is None else u["last_close"] for u in served],
                              [math.nan if u["drift"] is None else u["drift"] for u in served])
        metrics.record_coverage([u["horizon_step"] for u in served],
                                {level: [u[f"inside_{level}"] for u in served] for level in ("80", "95")})
    metrics.record_validation(len(validated), pending_total, time.time())
