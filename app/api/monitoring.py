"""Monitoring endpoints: register, validate, upload realised closes, performance report (the page: monitoring_page)."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import uuid

from flask import Blueprint, current_app, g, request
from sqlalchemy.exc import SQLAlchemyError

from app.api.guards import require_token
from app.api.uploads import read_upload, request_field
from app.csv_input import parse_price_csv
from app.errors import InvalidInput, ServiceUnavailable, error_response
from app.monitoring.drift import watch
from app.monitoring.fields import forecast_dates, positive_number, short_label, whole_number
from app.monitoring.hints import unmatched_actuals_warning
from app.monitoring.performance import RECENT_LIMITS, RECENT_STATUSES, performance_report
from app.monitoring.periods import parse_period, period_dates
from app.monitoring.prices import default_price_source
from app.monitoring.tickers import UNKNOWN_TICKER, normalise_ticker
from app.monitoring.validation import MAX_DAYS_BACK, validate_pending_forecasts
from app.services import services_of
from app.trading_days import sessions_between

log = logging.getLogger(__name__)
monitoring_bp = Blueprint("monitoring", __name__, url_prefix="/monitoring")

# Stop asking price sources after this long so the request ends well within gunicorn's 30 s worker timeout.
VALIDATE_TIME_BUDGET_S = 20.0
MAX_HORIZON_DAYS = 400  # calendar days between made_at and target_date that a registration may span


@monitoring_bp.errorhandler(SQLAlchemyError)
def _database_error(exc):
    log.exception("forecast registry error on %s %s", request.method, request.path)
    return error_response(503, "registry_unavailable", "the forecast registry did not answer (busy or "
                                                       "unreachable database); retry in a few seconds")


def _registry():
    handle = services_of().registry
    registry = handle.get()
    if registry is None:
        raise ServiceUnavailable("registry_unavailable", f"the forecast registry is unavailable: "
                                                         f"{handle.problem()}; retry later")
    return registry


@monitoring_bp.post("/register")
@require_token
def register():
    """Register one forecast made elsewhere: JSON prediction_value, ticker[, target_date, request_id, ...]."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput("invalid_json", "send a JSON object with Content-Type: application/json, e.g. "
                                           '{"ticker": "MSFT", "target_date": "2024-01-05", "prediction_value": 371.2}')
    ticker = normalise_ticker(body.get("ticker"))
    if ticker == UNKNOWN_TICKER:
        raise InvalidInput("missing_ticker", "field 'ticker' is required (for example \"MSFT\"): without it the "
                                             "forecast can never be compared with a realised close")
    predicted = positive_number(body, "prediction_value", required=True)
    last_close = positive_number(body, "last_close", required=False)
    made_at, target, calendar = forecast_dates(body, ticker, dt.date.today())
    if not made_at < target <= made_at + dt.timedelta(days=MAX_HORIZON_DAYS):
        raise InvalidInput("bad_made_at", f"target_date ({target}) must be after made_at ({made_at}) and at most "
                                          f"{MAX_HORIZON_DAYS} days later")
    model_version = short_label(body, "model_version", "external")
    request_id = short_label(body, "request_id", g.get("request_id") or uuid.uuid4().hex)
    # The identity excludes request_id: a retried registration is the same forecast.
    fingerprint = json.dumps([ticker, made_at.isoformat(), target.isoformat(), predicted, last_close, model_version])
    row = {"date": target, "close": predicted, "horizon_step": max(sessions_between(ticker, made_at, target), 1)}
    registered = _registry().register_forecasts(
        ticker=ticker, made_at=made_at, last_close=last_close, forecast_rows=[row],
        model_version=model_version, request_id=request_id, role="external",
        input_hash=hashlib.sha256(fingerprint.encode()).hexdigest())
    services_of().metrics.count_registered(registered)
    answer = {"registered": bool(registered), "duplicate": not registered, "ticker": ticker,
              "made_at": made_at.isoformat(), "target_date": target.isoformat(), "prediction_value": predicted,
              "last_close": last_close, "model_version": model_version, "request_id": request_id,
              "target_date_chosen_by_server": calendar is not None, "calendar": calendar}
    return answer, (201 if registered else 200)


@monitoring_bp.post("/validate")
@require_token
def validate():
    """Validate pending forecasts whose target date is within the last days_back days (default 7)."""
    days_back = _int_param("days_back", 7, 1, MAX_DAYS_BACK)
    registry = _registry()
    services = services_of()
    result = validate_pending_forecasts(registry, _price_source(registry), days_back=days_back,
                                        time_budget_s=VALIDATE_TIME_BUDGET_S, metrics=services.metrics)
    log.info("validation: %s", result.summary())
    drift = watch(registry, drift_reference(services), services.metrics)
    return {**result.as_dict(), "summary": result.summary(), "drift": drift}


@monitoring_bp.post("/actuals")
@require_token
def upload_actuals():
    """Store realised closes from a CSV (multipart field `file` or a text/csv body) for later validation."""
    data, filename = read_upload()
    if data is None:
        raise InvalidInput("missing_file", "send the CSV as multipart field 'file' or as a text/csv body")
    ticker = normalise_ticker(request_field("ticker"), filename)
    if ticker == UNKNOWN_TICKER:
        raise InvalidInput("missing_ticker", "say which stock these closes belong to: add ?ticker=SYMBOL or a "
                                             "'ticker' form field, or name the file <SYMBOL>_data.csv")
    frame = parse_price_csv(data)
    registry = _registry()
    stored = registry.record_actuals(ticker, frame)
    answer = {"ticker": ticker, "rows": int(len(frame)), "stored": stored,
              "first_date": frame.index[0].date().isoformat(), "last_date": frame.index[-1].date().isoformat()}
    warning = unmatched_actuals_warning(registry, ticker)
    if warning:
        answer["warning"] = warning
    return answer


@monitoring_bp.get("/performance")
def performance():
    """The performance report as JSON (?status=all|validated|pending&limit=5..50&ticker=&period=)."""
    return report_from_args(request.args)


def report_from_args(args, default_period: str | None = None) -> dict:
    """The performance report for query parameters `args`; an absent parameter takes its default, a present one
    must be valid (an empty value is a mistake too). Without `period` (and no default): all target dates."""
    status = args.get("status", "all").strip().lower()
    if status not in RECENT_STATUSES:
        raise InvalidInput("bad_status", f"status must be one of {', '.join(RECENT_STATUSES)}, got {status[:20]!r}")
    raw_limit = args.get("limit")
    limit = 20 if raw_limit is None else whole_number(raw_limit, "limit", *RECENT_LIMITS)
    ticker = args.get("ticker")
    model_version = args.get("model_version")
    if model_version is not None:
        model_version = short_label({"model_version": model_version}, "model_version", "")
        if not model_version:
            raise InvalidInput("bad_model_version", "model_version is empty: give a version from GET /models, or "
                                                    "leave the parameter out for the answers users got")
    if ticker is not None:
        if not ticker.strip():
            raise InvalidInput("invalid_ticker", "ticker is empty: give a symbol like MSFT, or leave the parameter out "
                                                 "for all tickers")
        ticker = normalise_ticker(ticker)
    period_name = parse_period(args["period"]) if "period" in args else default_period
    registry = _registry()
    today = dt.date.today()
    period = None if period_name is None else period_dates(registry, period_name, ticker, today)
    report = performance_report(
        registry, status=status, limit=limit, ticker=ticker, today=today, period=period,
        threshold=current_app.config["MAPE_ALERT_THRESHOLD"],
        window_days=current_app.config["DEGRADATION_WINDOW_DAYS"], model_version=model_version)
    if period is not None:
        report["period"]["name"] = period_name
    return report


def drift_reference(services):
    """The champion's training returns (None while no model is loaded or the store kept none)."""
    return None if services.lineup is None else services.lineup.drift_reference()


def _price_source(registry):
    """Uploaded closes, then yfinance (VALIDATION_PRICE_SOURCE=uploaded keeps validation offline)."""
    factory = services_of().price_source  # tests substitute the source here
    if factory is not None:
        return factory(registry)
    return default_price_source(registry, online=current_app.config["VALIDATION_PRICE_SOURCE"] != "uploaded")


def _int_param(name: str, default: int, low: int, high: int) -> int:
    """A query-string (or form) integer: absent -> default, anything else must be valid."""
    raw = request.args.get(name, request.form.get(name))
    return default if raw is None else whole_number(raw, name, low, high)
