"""Flask application factory: builds the app, loads the model once, wires metrics and monitoring."""
import logging

from flask import Flask

from app.config import settings_from_env

log = logging.getLogger(__name__)


def create_app(config=None):
    """Build the app; `config` (a mapping) overrides the settings read from the environment."""
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(settings_from_env())
    if config:
        app.config.update(config)
    if "MAX_UPLOAD_MB" in (config or {}):
        app.config["MAX_CONTENT_LENGTH"] = int(app.config["MAX_UPLOAD_MB"] * 1024 * 1024)
    app.json.sort_keys = False
    _configure_logging(app)
    _load_model(app)

    from app import metrics, monitoring
    from app.api import register_blueprints

    metrics.init_app(app)
    monitoring.init_app(app)
    register_blueprints(app)
    return app


def _load_model(app):
    """Load the artifact once per process; on failure keep the reason for /ready and answer 503s."""
    from app.predictor import ModelLoadError, Predictor

    app.extensions["predictor"] = None
    app.extensions["model_error"] = None
    try:
        app.extensions["predictor"] = Predictor.load(app.config["MODEL_DIR"])
    except ModelLoadError as exc:
        app.extensions["model_error"] = str(exc)
        log.error("model not loaded: %s", exc)


def _configure_logging(app):
    """Log to stderr at INFO (gunicorn collects it); tests keep pytest's own handlers."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
