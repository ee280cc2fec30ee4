"""The per-forecast error figures the performance report aggregates, defined once for raw rows and roll-ups.

Each measure is mergeable: two groups combine by adding (sums, counts) or by taking the smaller or larger value
(min, max). That is what lets validation keep daily roll-ups up to date and the report read them instead of
scanning every forecast. docs/performance.md says how to add a figure.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Float, Integer, case, func
from sqlalchemy.sql import ColumnElement


@dataclass(frozen=True)
class Measure:
    """One aggregate column: its name, how two groups merge ("sum", "min" or "max"), and its SQL over raw rows."""

    name: str
    merge: str
    of_rows: Callable[[object], ColumnElement]  # forecasts.c -> aggregate expression over validated rows
    sql_type: type = Float


def _naive_known(c):
    return c.naive_abs_error.isnot(None)


MEASURES = (
    Measure("n", "sum", lambda c: func.count(), Integer),
    Measure("sum_abs", "sum", lambda c: func.sum(c.abs_error)),
    Measure("sum_ape", "sum", lambda c: func.sum(c.ape)),
    Measure("sum_sq", "sum", lambda c: func.sum(c.abs_error * c.abs_error)),
    Measure("min_ape", "min", lambda c: func.min(c.ape)),
    Measure("max_ape", "max", lambda c: func.max(c.ape)),
    Measure("min_abs_error", "min", lambda c: func.min(c.abs_error)),
    Measure("max_abs_error", "max", lambda c: func.max(c.abs_error)),
    Measure("sum_predicted", "sum", lambda c: func.sum(c.predicted)),
    Measure("sum_actual", "sum", lambda c: func.sum(c.actual)),
    Measure("naive_n", "sum", lambda c: func.count(c.naive_abs_error), Integer),
    Measure("naive_sum_abs", "sum", lambda c: func.sum(c.naive_abs_error)),
    Measure("naive_sum_ape", "sum", lambda c: func.sum(c.naive_ape)),
    Measure("naive_sum_sq", "sum", lambda c: func.sum(c.naive_abs_error * c.naive_abs_error)),
    Measure("naive_min_ape", "min", lambda c: func.min(c.naive_ape)),
    Measure("naive_max_ape", "max", lambda c: func.max(c.naive_ape)),
    # The model's errors on the rows that have a naive forecast, so rMAE compares like with like.
    Measure("sum_abs_with_naive", "sum", lambda c: func.sum(case((_naive_known(c), c.abs_error), else_=0.0))),
    # The drift baseline (app/baselines.py) and the interval hits (app/monitoring/interval_report.py).
    Measure("drift_n", "sum", lambda c: func.count(c.drift_abs_error), Integer),
    Measure("drift_sum_abs", "sum", lambda c: func.sum(c.drift_abs_error)),
    Measure("drift_sum_ape", "sum", lambda c: func.sum(c.drift_ape)),
    # The model's errors on the rows with a drift forecast, so rMAE vs drift compares like with like.
    Measure("sum_abs_with_drift", "sum",
            lambda c: func.sum(case((c.drift_abs_error.isnot(None), c.abs_error), else_=0.0))),
    Measure("checked_80", "sum", lambda c: func.count(c.inside_80), Integer),
    Measure("checked_95", "sum", lambda c: func.count(c.inside_95), Integer),
    Measure("inside_80", "sum", lambda c: func.sum(c.inside_80), Integer),
    Measure("inside_95", "sum", lambda c: func.sum(c.inside_95), Integer),
)

_AGGREGATE = {"sum": func.sum, "min": func.min, "max": func.max}


def over_rows(c) -> list[ColumnElement]:
    """Every measure over raw forecast rows (columns `c`), labelled by name."""
    return [m.of_rows(c).label(m.name) for m in MEASURES]


def over_rollup(c) -> list[ColumnElement]:
    """Every measure merged over roll-up rows (columns `c` of a roll-up table), labelled by name."""
    return [_AGGREGATE[m.merge](c[m.name]).label(m.name) for m in MEASURES]


def merged(m: Measure, kept, new) -> ColumnElement:
    """SQL for a stored roll-up value `kept` merged with a new group's value `new` (either may be NULL)."""
    if m.merge == "sum":
        return func.coalesce(kept, 0) + func.coalesce(new, 0)
    better = new < kept if m.merge == "min" else new > kept
    return case((kept.is_(None), new), (new.is_(None), kept), (better, new), else_=kept)
