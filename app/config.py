"""Settings read from environment variables once, each with its documented default, checked at start-up."""
import os
from dataclasses import dataclass
from pathlib import Path

from app.thresholds import MAPE_QUALITY_BAND, QUALITY_WINDOW_DAYS

APP_DIR = Path(__file__).resolve().parent
PRICE_SOURCES = ("auto", "uploaded")  # auto: uploaded closes, then yfinance; uploaded: never go online


class ConfigError(ValueError):
    """A setting has a value the app cannot run with; the message names the environment variable."""


@dataclass(frozen=True)
class Setting:
    """One environment variable: its default, how to read it, and which values are allowed."""

    default: str
    kind: type = str
    low: float | None = None  # smallest allowed number
    choices: tuple = ()

    def parse(self, name, raw):
        """The value of `raw` (text from the environment or a value from a test's config), or ConfigError."""
        if self.kind is not str and isinstance(raw, str) or self.choices:
            raw = str(raw).strip()
        try:
            value = self.kind(raw)
        except (TypeError, ValueError):
            kind = "a whole number" if self.kind is int else "a number"
            raise ConfigError(f"{name}={raw!r} is not {kind}") from None
        if self.low is not None and value < self.low:
            raise ConfigError(f"{name}={raw!r} must be at least {self.low:g}")
        if self.choices:
            value = value.lower()
            if value not in self.choices:
                raise ConfigError(f"{name}={raw!r} must be one of {', '.join(self.choices)}")
        return value


# The configuration table of docs/configuration.md mirrors this.
SETTINGS = {
    "MODEL_STORE": Setting(str(APP_DIR / "models")),
    "MAX_UPLOAD_MB": Setting("10", float, low=0.001),
    "HOST": Setting("127.0.0.1"),
    "PORT": Setting("5000", int, low=1),
    "WEB_CONCURRENCY": Setting("2", int, low=1),
    "DATABASE_URL": Setting(""),
    "REGISTRY_PATH": Setting(""),
    "MONITORING_TOKEN": Setting(""),
    "MAPE_ALERT_THRESHOLD": Setting(str(MAPE_QUALITY_BAND), float, low=0),
    "DEGRADATION_WINDOW_DAYS": Setting(str(QUALITY_WINDOW_DAYS), int, low=1),
    "BACKTEST_DAYS": Setting("20", int, low=0),
    "TICKER_HISTORY_DAYS": Setting("400", int, low=1),
    "VALIDATION_PRICE_SOURCE": Setting("auto", choices=PRICE_SOURCES),
    "RETENTION_DAYS": Setting("400", int, low=1),
}


def settings_from_env(environ=None):
    """Return the settings from `environ` (default os.environ), parsed and checked, with defaults filled in."""
    environ = os.environ if environ is None else environ
    return {name: setting.parse(name, environ.get(name) or setting.default) for name, setting in SETTINGS.items()}


def apply_settings(app_config, overrides=None):
    """Fill a Flask config from the environment and `overrides`, check every setting, derive the upload limit."""
    app_config.update(settings_from_env())
    for name, value in (overrides or {}).items():
        app_config[name] = SETTINGS[name].parse(name, value) if name in SETTINGS else value
    # Flask refuses bodies over MAX_CONTENT_LENGTH with a 413; it is derived here only.
    app_config["MAX_CONTENT_LENGTH"] = int(app_config["MAX_UPLOAD_MB"] * 1024 * 1024)
