"""Champion against a challenger on the same validated forecasts: the evidence a promotion is judged by.

A challenger's shadow forecast shares the champion's input fingerprint, ticker and target date, so pairing on
those three compares the two models on exactly the same questions, with the same naive baseline (the last close).
"""
from __future__ import annotations

from sqlalchemy import and_, case, func, select

from app.monitoring.registry import ForecastRegistry
from app.monitoring.storage import forecasts

NOMINAL_COVERAGE = 0.80


def paired_comparison(registry: ForecastRegistry, champion: str, challenger: str) -> dict:
    """n paired forecasts, and for each side its MAE, rMAE (vs naive on the same forecasts) and 80% coverage."""
    a, b = forecasts.alias("a"), forecasts.alias("b")

    def inside(t):
        return func.sum(case((and_(t.c.lower_80 <= t.c.actual, t.c.actual <= t.c.upper_80), 1), else_=0))

    stmt = (select(func.count().label("n"), func.sum(a.c.abs_error).label("a_abs"),
                   func.sum(b.c.abs_error).label("b_abs"), func.sum(a.c.naive_abs_error).label("naive_abs"),
                   inside(a).label("a_inside"), inside(b).label("b_inside"),
                   func.count(a.c.lower_80).label("a_bounds"), func.count(b.c.lower_80).label("b_bounds"))
            .select_from(a.join(b, and_(a.c.input_hash == b.c.input_hash, a.c.ticker == b.c.ticker,
                                        a.c.target_date == b.c.target_date)))
            .where(a.c.model_version == champion, b.c.model_version == challenger,
                   a.c.status == "validated", b.c.status == "validated",
                   a.c.naive_abs_error.isnot(None)))
    with registry.engine.connect() as conn:
        row = conn.execute(stmt).one()._mapping
    n = int(row["n"])

    def side(version, abs_sum, inside_n, bounds_n):
        mae = abs_sum / n if n else None
        naive_mae = row["naive_abs"] / n if n else None
        return {"version": version, "mae": mae, "rmae": mae / naive_mae if n and naive_mae else None,
                "coverage_80": inside_n / bounds_n if bounds_n else None}

    return {"n": n, "naive_mae": row["naive_abs"] / n if n else None,
            "champion": side(champion, row["a_abs"], row["a_inside"], row["a_bounds"]),
            "challenger": side(challenger, row["b_abs"], row["b_inside"], row["b_bounds"])}


def gate(comparison: dict) -> list[str]:
    """Why the challenger should not be promoted (empty when it did at least as well on every measure)."""
    champion, challenger = comparison["champion"], comparison["challenger"]
    if comparison["n"] == 0:
        return [f"{challenger['version']} and the champion {champion['version']} have no validated forecast in "
                "common yet: let it shadow until validation has compared some"]
    reasons = []
    if champion["rmae"] is not None and (challenger["rmae"] is None or challenger["rmae"] > champion["rmae"]):
        reasons.append(f"its rMAE {_fmt(challenger['rmae'])} is worse than the champion's {_fmt(champion['rmae'])} "
                       f"on the same {comparison['n']} validated forecasts")
    if champion["coverage_80"] is not None and (
            challenger["coverage_80"] is None
            or abs(challenger["coverage_80"] - NOMINAL_COVERAGE) > abs(champion["coverage_80"] - NOMINAL_COVERAGE)):
        reasons.append(f"its 80% interval covered {_pct(challenger['coverage_80'])} of the realised closes, further "
                       f"from 80% than the champion's {_pct(champion['coverage_80'])}")
    return reasons


def describe(comparison: dict) -> str:
    """The comparison in a few lines, for the CLI."""
    lines = [f"{comparison['n']} validated forecasts made by both (naive MAE {_fmt(comparison['naive_mae'])}):"]
    for role in ("champion", "challenger"):
        s = comparison[role]
        lines.append(f"  {role:10} {s['version']:28} MAE {_fmt(s['mae'])}  rMAE {_fmt(s['rmae'])}  "
                     f"80% coverage {_pct(s['coverage_80'])}")
    return "\n".join(lines)


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _pct(value) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"
