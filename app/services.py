"""The app's services in one typed place, instead of string keys scattered over `app.extensions`."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import Flask, current_app

if TYPE_CHECKING:
    from app.metrics import ApiMetrics
    from app.model_lineup import ModelLineup
    from app.monitoring import RegistryHandle
    from app.monitoring.registry import ForecastRegistry
    from app.predictor import Predictor

EXTENSION_KEY = "stock_forecast"


@dataclass
class Services:
    """What create_app builds once per app: the models, the metrics and the forecast registry."""

    lineup: ModelLineup | None = None  # the champion and its challengers
    model_error: str | None = None  # why no model is loaded, for /ready and the 503 answers
    metrics: ApiMetrics | None = None
    registry: RegistryHandle | None = None
    # Where validation reads realised closes; None = uploaded closes, then yfinance (tests substitute one).
    price_source: Callable[[ForecastRegistry], object] | None = None

    @property
    def predictor(self) -> Predictor | None:
        """The champion serving now (None while no model is loaded)."""
        return None if self.lineup is None else self.lineup.champion

    def model_problem(self) -> str:
        """Why no forecast can be made, in the user's words."""
        return self.model_error or "the model is not loaded"


def attach(app: Flask, services: Services) -> Services:
    """Make `services` the app's (create_app calls this once)."""
    app.extensions[EXTENSION_KEY] = services
    return services


def services_of(app: Flask | None = None) -> Services:
    """The services of `app` (default: the current app)."""
    return (app or current_app).extensions[EXTENSION_KEY]
