"""View decorators shared by the blueprints."""
import functools

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
