"""View decorators shared by the blueprints."""
import functools
import hmac

from flask import current_app, request

from app.errors import error_response
from app.services import services_of


def requires_model(view=None, *, unavailable=None):
    """Answer 503 while no model is loaded; `unavailable(reason)` builds that answer (default: the JSON error)."""

    def decorate(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            services = services_of()
            if services.predictor is None:
                reason = services.model_problem()
                if unavailable is not None:
                    return unavailable(reason)
                return error_response(503, "model_unavailable", f"no forecasts can be made: {reason}")
            return view(*args, **kwargs)

        return wrapped

    return decorate(view) if view is not None else decorate


def require_token(view):
    """When MONITORING_TOKEN is set, the request needs `Authorization: Bearer <token>`."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        expected = current_app.config.get("MONITORING_TOKEN") or ""
        if expected:
            scheme, _, given = (request.headers.get("Authorization") or "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected.encode()):
                response = error_response(401, "unauthorized", "this endpoint needs the header "
                                          "'Authorization: Bearer <MONITORING_TOKEN>' with the server's token")
                response.headers["WWW-Authenticate"] = 'Bearer realm="monitoring"'
                return response
        return view(*args, **kwargs)

    return wrapped
