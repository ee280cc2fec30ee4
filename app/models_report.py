"""What GET /models, the CLI and the monitoring page say about each model version."""
from __future__ import annotations

import json

from app.model_store import ModelStore
from app.monitoring.comparison import paired_comparison
from app.monitoring.performance import error_summary
from app.monitoring.promotions import promotion_history
from app.predictor import CARD_FILE


def card_summary(card: dict) -> dict:
    """The card's training data and its test evaluation (computed before the model ever served)."""
    evaluation = card.get("evaluation") or {}
    coverage = (evaluation.get("interval_coverage") or {}).get("80", {})
    test = (card.get("data") or {}).get("splits", {}).get("test", {})
    return {
        "created_at": card.get("created_at"),
        "data": {k: (card.get("data") or {}).get(k) for k in ("file", "start", "end", "selection")},
        "evaluation": {"part": "test", "from": test.get("start"), "to": test.get("end"),
                       "n": evaluation.get("rows"), "mae": (evaluation.get("lstm") or {}).get("mae"),
                       "naive_mae": (evaluation.get("naive") or {}).get("mae"), "rmae": evaluation.get("rmae"),
                       "coverage_80": (coverage.get("by_horizon") or {}).get("1")},
    }


def production_summary(registry, version: str) -> dict:
    """The version's validated forecasts (answered or shadowed): n, MAE, rMAE vs naive, 80% coverage."""
    errors = error_summary(registry, model_version=version)
    return {"n": errors["n"], "mae": errors["mae"], "naive_mae": (errors["naive"] or {}).get("mae"),
            "rmae": errors["rmae"], "coverage_80": errors["coverage_80"]}


def models_report(lineup, registry, store: ModelStore | None = None) -> dict:
    """Every loaded version with its role, card evaluation and production figures; the champion first.

    Challengers also carry `versus_champion`: both models on the validated forecasts they share. Versions
    the store keeps but does not serve are listed as retired.
    """
    champion = lineup.current().champion.version
    order = [champion] + [v for v in lineup.versions() if v != champion]
    models = []
    for version in order:
        entry = {"version": version, "role": lineup.role(version), **card_summary(lineup.predictors[version].card)}
        if registry is not None:
            entry["production"] = production_summary(registry, version)
            if version != champion:
                entry["versus_champion"] = paired_comparison(registry, champion, version)
        models.append(entry)
    for version in _retired(store, set(order)):
        card = json.loads((store.path(version) / CARD_FILE).read_text(encoding="utf-8"))
        models.append({"version": version, "role": "retired", **card_summary(card)})
    report = {"champion": champion, "models": models}
    if lineup.load_errors:
        report["not_loaded"] = lineup.load_errors
    if registry is not None:
        report["promotions"] = promotion_history(registry, limit=10)
    return report


def _retired(store: ModelStore | None, serving: set[str]) -> list[str]:
    return [] if store is None else [v for v in store.versions() if v not in serving]
