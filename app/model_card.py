"""Plain-language readings of the model card (model.json) for the pages: quality sentence and tables.

They read the card's `evaluation.by_horizon`: per evaluated horizon, rMAE and a Diebold-Mariano verdict against
the naive and drift forecasts, and the intervals' coverage on the test part (with the production adjustment
where the card has it, since that is what users are served).
"""
from __future__ import annotations

NAIVE = "\u201ctomorrow = today\u201d"
DRIFT = "a trend-following forecast"  # the drift baseline: the last close grown at the mean past return
LEVELS = ("80", "95")


def _evaluated(card: dict) -> list[dict]:
    return sorted((card.get("evaluation") or {}).get("by_horizon") or [], key=lambda row: row["horizon"])


def _at_or_below(rows: list[dict], horizon: int) -> dict:
    """The row of the largest evaluated horizon <= horizon (the card evaluates a few horizons only)."""
    return max((row for row in rows if row["horizon"] <= horizon), key=lambda row: row["horizon"], default=rows[0])


def _coverage(row: dict, level: str) -> float | None:
    """Percent of test closes inside the `level`% interval, as served (tracked when the card has that figure)."""
    cell = row.get(f"{level}_tracked") or row.get(level) or {}
    return cell.get("coverage")


def _against(baseline: str, result: dict) -> str:
    verdict = {"better": "better than", "worse": "worse than"}.get(result.get("verdict"), "about as accurate as")
    return f"{verdict} {baseline} (rMAE {result['rmae']:.3f})"


def quality_sentence(card: dict, horizon: int) -> str:
    """One sentence on how good forecasts `horizon` days ahead were in the card's test evaluation."""
    rows = _evaluated(card)
    if not rows:
        return "This model's card has no test evaluation, so its accuracy is not known."
    row = _at_or_below(rows, horizon)
    step = row["horizon"]
    test = (card.get("data") or {}).get("splits", {}).get("test", {})
    period = f" ({test['start']} to {test['end']})" if test.get("start") else ""
    sentence = (f"On held-out test data{period}, {step} trading day{'s' if step > 1 else ''} ahead, the model was "
                f"{_against(NAIVE, row['naive'])}")
    if row.get("drift"):
        sentence += f" and {_against(DRIFT, row['drift'])}"
    held = [(level, _coverage(row, level)) for level in LEVELS if _coverage(row, level) is not None]
    if held:
        (first, pct), *others = held
        sentence += (f"; the {first}% range held the real close {pct:.0f}% of the time"
                     + "".join(f", the {lvl}% range {p:.0f}%" for lvl, p in others))
    return sentence + "."


def evaluation_rows(card: dict) -> list[dict]:
    """Per evaluated horizon: rMAE and verdict against naive and drift, and both intervals' coverage (percent)."""
    rows = []
    for row in _evaluated(card):
        drift = row.get("drift") or {}
        rows.append({"horizon": row["horizon"],
                     "rmae": row["naive"]["rmae"], "verdict_naive": row["naive"].get("verdict"),
                     "rmae_drift": drift.get("rmae"), "verdict_drift": drift.get("verdict"),
                     **{f"coverage_{level}": _coverage(row, level) for level in LEVELS}})
    return rows
