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
    services.metrics = metrics.init_app(app)
    services.registry = monitoring.init_app(app, services.metrics)
    _load_models(app, services)
    register_blueprints(app)
    return app


def _load_models(app, services):
    """Load the store's versions once per process; on failure keep the reason for /ready and answer 503s."""
    from app.model_cli import models_cli
    from app.model_lineup import ModelLineup
    from app.model_store import ModelStore
    from app.monitoring.promotions import current_champion
    from app.predictor import ModelLoadError

    app.cli.add_command(models_cli)

    def read_champion():
        registry = services.registry.get()
        return None if registry is None else current_champion(registry)

    try:
        services.lineup = ModelLineup.from_store(ModelStore(app.config["MODEL_STORE"]), read_champion)
    except ModelLoadError as exc:
        services.model_error = str(exc)
        log.error("model not loaded: %s", exc)
        return
    services.metrics.track_models(services.lineup)


def _configure_logging(app):
    """Log to stderr at INFO (gunicorn collects it); tests keep pytest's own handlers."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
