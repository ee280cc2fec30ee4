"""GET /models: the versions and how each does; POST /models/<version>/promote: change the champion."""
from __future__ import annotations

from flask import Blueprint, current_app
from sqlalchemy.exc import SQLAlchemyError

from app.api.guards import require_token, requires_model
from app.errors import InvalidInput, error_response
from app.models_report import models_report
from app.promotion import promote
from app.services import services_of

models_bp = Blueprint("models", __name__, url_prefix="/models")


@models_bp.errorhandler(SQLAlchemyError)
def _database_error(_exc):
    return error_response(503, "registry_unavailable", "the forecast registry did not answer; retry in a few seconds")


@models_bp.get("")
@requires_model
def list_models():
    """Champion and challengers with their test evaluation and production figures."""
    services = services_of()
    return models_report(services.lineup, services.registry.get(), services.lineup.store)


@models_bp.post("/<version>/promote")
@requires_model
@require_token
def promote_version(version):
    """Make `version` the champion on every worker within seconds, without a restart; kept across restarts."""
    if not current_app.config.get("MONITORING_TOKEN"):
        # Changing what every user is answered by is never left open, unlike the other monitoring endpoints.
        raise InvalidInput("promotion_disabled", "set MONITORING_TOKEN on the server to enable promotions; they "
                                                 "need 'Authorization: Bearer <MONITORING_TOKEN>'", status=403)
    # The gate is the CLI's (flask models promote): here the token holder decides, and the answer carries the
    # comparison and any gate reasons, which the promotion history records too.
    return promote(services_of(), version, gated=False)
