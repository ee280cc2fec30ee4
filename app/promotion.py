"""Promote a model version to champion: the one path behind POST /models/<version>/promote and the CLI."""
from __future__ import annotations

import logging

from app.errors import InvalidInput, ServiceUnavailable
from app.monitoring.comparison import gate, paired_comparison
from app.monitoring.promotions import record_promotion
from app.predictor import ModelLoadError

log = logging.getLogger(__name__)


class PromotionRefused(Exception):
    """The gate found the candidate worse than the champion on the same validated forecasts."""

    def __init__(self, version: str, reasons: list[str], comparison: dict):
        super().__init__(f"{version} was not promoted: " + "; ".join(reasons) + " (--force promotes it anyway)")
        self.reasons, self.comparison = reasons, comparison


def promote(services, version: str, *, gated: bool, force: bool = False) -> dict:
    """Make `version` the champion of every worker (recorded in the registry, so it survives restarts).

    With `gated`, a version that did worse than the champion on their common validated forecasts (rMAE, 80%
    coverage) is refused unless `force`. Raises InvalidInput (unknown version), ServiceUnavailable (no
    registry to record it in) or PromotionRefused.
    """
    if services.lineup is None:
        raise ServiceUnavailable("model_unavailable", f"no model is loaded: {services.model_problem()}")
    handle = services.registry
    registry = handle.get()
    if registry is None:
        raise ServiceUnavailable("registry_unavailable", "a promotion is recorded in the forecast registry, which "
                                                         f"is unavailable: {handle.problem()}; retry later")
    try:
        services.lineup.ensure_loaded(version)
    except ModelLoadError as exc:
        log.warning("promotion of %r refused: %s", version[:70], exc)
        raise InvalidInput("unknown_model_version", f"there is no usable model version {version[:70]!r}; "
                                                    "GET /models lists the versions", status=404) from None
    current = services.lineup.current().champion.version
    if version == current:
        return {"champion": version, "previous": current, "changed": False, "comparison": None, "forced": False}
    comparison = paired_comparison(registry, current, version)
    reasons = gate(comparison)
    if gated and reasons and not force:
        raise PromotionRefused(version, reasons, comparison)
    record_promotion(registry, version, current, forced=bool(reasons), reason="; ".join(reasons))
    services.lineup.switch_to(version)
    log.info("promoted %s to champion (was %s)%s", version, current, f"; overriding: {reasons}" if reasons else "")
    return {"champion": version, "previous": current, "changed": True, "comparison": comparison,
            "forced": bool(reasons), "gate_reasons": reasons}
