"""GET /openapi.json: the OpenAPI 3 description of every endpoint (app/openapi.json, kept true by a test)."""
import json
from functools import lru_cache

from flask import Blueprint

from app.config import APP_DIR

openapi_bp = Blueprint("openapi", __name__)


@lru_cache(maxsize=1)
def openapi_spec():
    """The spec, read once per process."""
    return json.loads((APP_DIR / "openapi.json").read_text())


@openapi_bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3 document."""
    return openapi_spec()
