"""Liveness, readiness and the model card."""
from flask import Blueprint, current_app

from app.api.predict import model_unavailable
from app.monitoring import registry_error

health_bp = Blueprint("health", __name__)


@health_bp.get("/health")
def health():
    """Liveness: the process answers."""
    return {"status": "ok"}


@health_bp.get("/ready")
def ready():
    """Readiness: 200 only when the model is loaded and the forecast registry is usable."""
    predictor = current_app.extensions.get("predictor")
    problems = []
    if predictor is None:
        problems.append(f"model: {current_app.extensions.get('model_error') or 'not loaded'}")
    registry_problem = registry_error(current_app)
    if registry_problem:
        problems.append(f"forecast registry: {registry_problem}")
    if problems:
        return {"status": "unavailable", "reasons": problems}, 503
    return {"status": "ready", "model_version": predictor.version}


@health_bp.get("/model")
def model_card():
    """The model card of the loaded artifact."""
    predictor = current_app.extensions.get("predictor")
    if predictor is None:
        return model_unavailable()
    return predictor.card
