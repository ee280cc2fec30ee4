"""Settings read from environment variables once, each with its documented default."""
import os
from pathlib import Path

from app.thresholds import DEGRADATION_WINDOW_DAYS, MODEL_MAPE

APP_DIR = Path(__file__).resolve().parent

# name: (environment variable, default, parser). The README's configuration table mirrors this.
_SETTINGS = {
    "MODEL_DIR": ("MODEL_DIR", str(APP_DIR / "model"), str),
    "MAX_UPLOAD_MB": ("MAX_UPLOAD_MB", "10", float),
    "HOST": ("HOST", "127.0.0.1", str),
    "PORT": ("PORT", "5000", int),
    "WEB_CONCURRENCY": ("WEB_CONCURRENCY", "2", int),
    "DATABASE_URL": ("DATABASE_URL", "", str),
    "REGISTRY_PATH": ("REGISTRY_PATH", "", str),
    "MONITORING_TOKEN": ("MONITORING_TOKEN", "", str),
    "MAPE_ALERT_THRESHOLD": ("MAPE_ALERT_THRESHOLD", str(MODEL_MAPE.value), float),
    "DEGRADATION_WINDOW_DAYS": ("DEGRADATION_WINDOW_DAYS", str(DEGRADATION_WINDOW_DAYS), int),
    "BACKTEST_DAYS": ("BACKTEST_DAYS", "20", int),
    "TICKER_HISTORY_DAYS": ("TICKER_HISTORY_DAYS", "400", int),
    "VALIDATION_PRICE_SOURCE": ("VALIDATION_PRICE_SOURCE", "auto", str),
}


def settings_from_env(environ=None):
    """Return the app settings from `environ` (default os.environ), parsed, with defaults filled in."""
    environ = os.environ if environ is None else environ
    settings = {name: parse(environ.get(var) or default) for name, (var, default, parse) in _SETTINGS.items()}
    settings["MAX_CONTENT_LENGTH"] = int(settings["MAX_UPLOAD_MB"] * 1024 * 1024)
    return settings
