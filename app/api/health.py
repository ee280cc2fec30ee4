"""Liveness, readiness and the model card."""
from flask import Blueprint, abort, current_app, make_response, render_template, request, send_from_directory

from app.api.predict import model_unavailable
from app.model_card import evaluation_rows, quality_sentence
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


def _wants_html() -> bool:
    """A browser (Accept prefers text/html) gets the page; API clients (*/*, application/json) the JSON."""
    accept = request.accept_mimetypes
    return accept.best_match(["application/json", "text/html"]) == "text/html" and \
        accept["text/html"] > accept["application/json"]


@health_bp.get("/model")
def model_card():
    """The model card of the loaded artifact: JSON, or the HTML page for a browser."""
    predictor = current_app.extensions.get("predictor")
    html = _wants_html()
    if predictor is None:
        response = model_unavailable()
        if html:
            response = make_response(render_template(
                "message.html", heading="The model is not loaded",
                message=f"No model card to show: {current_app.extensions.get('model_error')}."), 503)
    elif html:
        card = predictor.card
        response = make_response(render_template(
            "model_card.html", card=card, rows=evaluation_rows(card), quality=quality_sentence(card, 1)))
    else:
        response = make_response(predictor.card)
    response.vary.add("Accept")  # caches must keep the page and the JSON apart
    return response


@health_bp.get("/model/<name>")
def model_plot(name):
    """The test-forecast plot named in the model card (the only file of the artifact served)."""
    predictor = current_app.extensions.get("predictor")
    if predictor is None or name != predictor.card.get("plot"):
        abort(404, description="no such model file; the model card names its plot under 'plot'")
    return send_from_directory(current_app.config["MODEL_DIR"], name, max_age=3600)
