"""Plain-language readings of the model card (model.json) for the pages: quality sentence and tables."""
from __future__ import annotations


def _nearest_at_or_below(by_horizon: dict, horizon: int):
    """(h, value) for the largest evaluated h <= horizon (the card evaluates a few horizons only)."""
    steps = sorted(int(h) for h in by_horizon)
    step = max((h for h in steps if h <= horizon), default=steps[0])
    return step, by_horizon[str(step)]


NAIVE = "the naive forecast \u201ctomorrow = today\u201d"


def _rmae_words(rmae: float) -> str:
    change = (1 - rmae) * 100
    if abs(change) < 1:
        return f"the model was about as accurate as {NAIVE}"
    direction = "smaller" if change > 0 else "larger"
    return f"the model's average error was {abs(change):.0f}% {direction} than that of {NAIVE}"


def quality_sentence(card: dict, horizon: int) -> str:
    """One sentence on how good forecasts `horizon` days ahead were in the card's test evaluation."""
    evaluation = card.get("evaluation") or {}
    by_horizon = evaluation.get("rmae_by_horizon")
    if not by_horizon:
        return "This model's card has no test evaluation, so its accuracy is not known."
    step, rmae = _nearest_at_or_below(by_horizon, horizon)
    test = (card.get("data") or {}).get("splits", {}).get("test", {})
    period = f" ({test['start']} to {test['end']})" if test.get("start") else ""
    sentence = (f"On held-out test data{period}, {step} trading day{'s' if step > 1 else ''} ahead, "
                f"{_rmae_words(rmae)} (rMAE {rmae:.3f})")
    held = []
    for level, coverage in sorted((evaluation.get("interval_coverage") or {}).items()):
        per_horizon = coverage.get("per_horizon")
        if per_horizon:
            held.append((level, 100 * per_horizon[min(horizon, len(per_horizon)) - 1]))
    if held:
        first, *others = held
        when = "" if step == horizon else f" {horizon} day{'s' if horizon > 1 else ''} ahead,"
        sentence += (f";{when} the {first[0]}% range held the real close "
                     f"{first[1]:.0f}% of the time" + "".join(f", the {lvl}% range {pct:.0f}%" for lvl, pct in others))
    return sentence + "."


def evaluation_rows(card: dict) -> list[dict]:
    """Per evaluated horizon: rMAE against the naive forecast and both intervals' coverage."""
    evaluation = card.get("evaluation") or {}
    coverage = evaluation.get("interval_coverage") or {}
    rows = []
    for step, rmae in sorted((evaluation.get("rmae_by_horizon") or {}).items(), key=lambda kv: int(kv[0])):
        row = {"horizon": int(step), "rmae": rmae}
        for level in ("80", "95"):
            per_horizon = (coverage.get(level) or {}).get("per_horizon") or []
            row[f"coverage_{level}"] = per_horizon[int(step) - 1] if int(step) <= len(per_horizon) else None
        rows.append(row)
    return rows
