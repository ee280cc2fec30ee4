"""Flask application factory: builds the app, loads the model once, wires metrics and monitoring."""
import logging

from flask import Flask

from app.config import apply_settings

log = logging.getLogger(__name__)


def create_app(config=None):
    """Build the app; `config` (a mapping) overrides the settings read from the environment."""
    app = Flask(__name__, instance_relative_config=True)
    apply_settings(app.config, config)
    app.json.sort_keys = False
    _configure_logging(app)

    from app import metrics, monitoring
    from app.api import register_blueprints
    from app.services import Services, attach

    services = attach(app, Services())
    _load_model(app, services)
    services.metrics = metrics.init_app(app)
    services.registry = monitoring.init_app(app, services.metrics)
    register_blueprints(app)
    return app


def _load_model(app, services):
    """Load the artifact once per process; on failure keep the reason for /ready and answer 503s."""
    from app.predictor import ModelLoadError, Predictor

    try:
        services.predictor = Predictor.load(app.config["MODEL_DIR"])
    except ModelLoadError as exc:
        services.model_error = str(exc)
        log.error("model not loaded: %s", exc)


def _configure_logging(app):
    """Log to stderr at INFO (gunicorn collects it); tests keep pytest's own handlers."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
