"""Thin HTTP blueprints; the work happens in app.forecast_service, app.monitoring and friends."""
import logging
import uuid

from flask import g, request
from werkzeug.exceptions import HTTPException

from app.errors import InvalidInput, ServiceUnavailable, error_response
from app.forecasting import ForecastInputError, InsufficientHistory
from app.monitoring.fields import is_label

log = logging.getLogger(__name__)


def register_blueprints(app):
    """Attach every blueprint, the request id and the JSON error handlers."""
    from app.api import monitoring_page  # noqa: F401 - adds the page's route to monitoring_bp
    from app.api.assets import assets_bp
    from app.api.health import health_bp
    from app.api.models import models_bp
    from app.api.monitoring import monitoring_bp
    from app.api.openapi import openapi_bp
    from app.api.pages import pages_bp
    from app.api.predict import predict_bp

    for blueprint in (health_bp, predict_bp, pages_bp, openapi_bp, monitoring_bp, models_bp, assets_bp):
        app.register_blueprint(blueprint)

    @app.before_request
    def _assign_request_id():
        # The front proxy (or the client) may already have named the request: keep its id so one id appears in
        # the proxy's log, this app's log and the answer. Anything but a short safe label gets a fresh id.
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if is_label(incoming) else uuid.uuid4().hex

    @app.after_request
    def _expose_request_id(response):
        response.headers["X-Request-ID"] = g.get("request_id", "")
        # Browsers must keep the declared type: a JSON error quoting user input is never sniffed as HTML.
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response

    @app.errorhandler(InvalidInput)
    @app.errorhandler(ServiceUnavailable)
    def _known_error(exc):
        return error_response(exc.status, exc.code, exc.message)

    @app.errorhandler(ForecastInputError)
    def _unusable_prices(exc):
        code = "too_few_rows" if isinstance(exc, InsufficientHistory) else "invalid_prices"
        return error_response(400, code, str(exc))

    @app.errorhandler(HTTPException)
    def _http_error(exc):
        if exc.code == 413:
            return error_response(413, "payload_too_large", f"the upload exceeds the "
                                  f"{app.config['MAX_UPLOAD_MB']:g} MB limit; send a shorter history")
        code = (exc.name or "error").lower().replace(" ", "_")
        response = error_response(exc.code, code, exc.description or exc.name)
        for name, value in exc.get_headers():
            if name.lower() != "content-type":  # e.g. Allow on a 405
                response.headers[name] = value
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc):
        request_id = g.get("request_id", "")
        log.exception("unhandled error on %s %s (request_id=%s)", request.method, request.path, request_id)
        return error_response(500, "internal_error",
                              "the server failed to handle this request; quote the request_id if you report it",
                              request_id=request_id)
