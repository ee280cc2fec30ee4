"""GET /monitoring: the monitoring page, built from the same performance report as the JSON endpoint.

The page is a list of section templates (templates/monitoring/): a new section is one template, reading what it
needs from `report`, plus one entry in SECTIONS.
"""
from __future__ import annotations

import datetime as dt

from flask import current_app, render_template, request

from app.api.monitoring import drift_reference, monitoring_bp, report_from_args
from app.charts import Series, has_points, time_figure
from app.errors import InvalidInput, ServiceUnavailable
from app.models_report import models_report
from app.monitoring.drift import watch
from app.monitoring.hints import pending_reasons
from app.monitoring.performance import RECENT_LIMITS, RECENT_STATUSES
from app.monitoring.periods import DATA_PERIOD, PERIOD_LABELS, PERIODS
from app.monitoring.validation import MAX_DAYS_BACK
from app.services import services_of

SECTIONS = [
    "monitoring/status.html",      # period selector, degradation banner, summary cards
    "monitoring/charts.html",      # MAPE, MAE and RMSE over the period
    "monitoring/errors.html",      # model against naive and drift, per horizon
    "monitoring/intervals.html",   # interval coverage by horizon, and the worse-than-naive alarm
    "monitoring/tickers.html",     # per ticker
    "_model_versions.html",        # champion against challengers, and the drift of each ticker's returns
    "monitoring/recent.html",      # recent forecasts, with why pending ones wait
    "monitoring/actions.html",     # validate now, upload realised closes
]


def _charts(report: dict) -> dict:
    history = report["history"]
    threshold = report["degradation"]["threshold_mape"]
    figures = {
        "mape": time_figure([
            Series("model MAPE", [(h["date"], h["mape"]) for h in history], "#1f77b4"),
            Series("naive MAPE", [(h["date"], h["naive_mape"]) for h in history], "#7f7f7f", dashed=True),
        ], "MAPE per target day", unit="%", threshold=threshold),
        "errors": time_figure([
            Series("MAE", [(h["date"], h["mae"]) for h in history], "#1f77b4"),
            Series("RMSE", [(h["date"], h["rmse"]) for h in history], "#ff7f0e"),
            Series("naive MAE", [(h["date"], h["naive_mae"]) for h in history], "#7f7f7f", dashed=True),
        ], "Error (price units)"),
    }
    return {name: figure if has_points(figure) else None for name, figure in figures.items()}


@monitoring_bp.get("")
def page():
    """The monitoring page; a bad query parameter is shown on the page, above the default view."""
    problem = None
    status = 200
    try:
        try:
            report = report_from_args(request.args, DATA_PERIOD)
        except InvalidInput as exc:
            problem, status = exc.message[:1].upper() + exc.message[1:] + ".", exc.status
            report = report_from_args({}, DATA_PERIOD)
    except ServiceUnavailable as exc:
        return render_template("monitoring.html", report=None, problem=exc.message), 503
    pending_reasons(services_of().registry.get(), report["recent"]["forecasts"], dt.date.fromisoformat(report["today"]))
    return render_template(
        "monitoring.html", report=report, problem=None, param_problem=problem, sections=SECTIONS,
        charts=_charts(report), statuses=RECENT_STATUSES, limits=RECENT_LIMITS, periods=PERIODS,
        period_labels=PERIOD_LABELS, max_days_back=MAX_DAYS_BACK,
        token_required=bool(current_app.config.get("MONITORING_TOKEN")), **_model_section()), status


def _model_section() -> dict:
    """The page's model versions (champion against each challenger) and the drift of each ticker."""
    services = services_of()
    registry = services.registry.get()
    if services.lineup is None or registry is None:
        return {"model_versions": None, "drift": None}
    return {"model_versions": models_report(services.lineup, registry),
            "drift": watch(registry, drift_reference(services))}
