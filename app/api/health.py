"""Liveness, readiness and the model card."""
from flask import Blueprint, abort, current_app, make_response, render_template, request, send_from_directory

from app.api.guards import requires_model
from app.errors import error_response
from app.model_card import evaluation_rows, quality_sentence
from app.model_store import ModelStore
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


def _wants_html() -> bool:
    """A browser (Accept prefers text/html) gets the page; API clients (*/*, application/json) the JSON."""
    accept = request.accept_mimetypes
    return accept.best_match(["application/json", "text/html"]) == "text/html" and \
        accept["text/html"] > accept["application/json"]


def _model_unavailable(reason):
    """The 503 while no model is loaded: a page for a browser, the JSON error for API clients."""
    if _wants_html():
        response = make_response(render_template(
            "message.html", heading="The model is not loaded", message=f"No model card to show: {reason}."), 503)
    else:
        response = error_response(503, "model_unavailable", f"no forecasts can be made: {reason}")
    response.vary.add("Accept")
    return response


@health_bp.get("/model")
@requires_model(unavailable=_model_unavailable)
def model_card():
    """The model card of the loaded artifact: JSON, or the HTML page for a browser."""
    card = services_of().predictor.card
    if _wants_html():
        response = make_response(render_template(
            "model_card.html", card=card, rows=evaluation_rows(card), quality=quality_sentence(card, 1)))
    else:
        response = make_response(card)
    response.vary.add("Accept")  # caches must keep the page and the JSON apart
    return response


@health_bp.get("/model/<name>")
def model_plot(name):
    """The test-forecast plot named in the model card (the only file of the artifact served)."""
    predictor = services_of().predictor
    if predictor is None or name != predictor.card.get("plot"):
        abort(404, description="no such model file; the model card names its plot under 'plot'")
    folder = ModelStore(current_app.config["MODEL_STORE"]).path(predictor.version)
    return send_from_directory(folder, name, max_age=3600)
