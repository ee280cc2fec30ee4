"""Liveness, readiness and the model card."""
from flask import Blueprint

from app.api.guards import requires_model
from app.services import services_of

health_bp = Blueprint("health", __name__)


@health_bp.get("/health")
def health():
    """Liveness: the process answers."""
    return {"status": "ok"}


@health_bp.get("/ready")
def ready():
    """Readiness: 200 only when the model is loaded and the forecast registry is usable."""
    services = services_of()
    problems = []
    if services.predictor is None:
        problems.append(f"model: {services.model_problem()}")
    registry_problem = services.registry.problem()
    if registry_problem:
        problems.append(f"forecast registry: {registry_problem}")
    if problems:
        return {"status": "unavailable", "reasons": problems}, 503
    return {"status": "ready", "model_version": services.predictor.version}


@health_bp.get("/model")
@requires_model
def model_card():
    """The model card of the loaded artifact."""
    return services_of().predictor.card
