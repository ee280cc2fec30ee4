"""The HTML pages: the upload form, the forecast page it redirects to, and the model card page."""
import datetime as dt
import logging
import re

from flask import Blueprint, current_app, g, redirect, render_template, request, url_for

from app.api.guards import requires_model
from app.api.uploads import forecast_from_request, request_field
from app.charts import forecast_figure
from app.errors import InvalidInput, ServiceUnavailable
from app.forecasting import ForecastInputError
from app.form_errors import MODEL_NOT_LOADED, FormError, form_error
from app.model_card import quality_sentence
from app.monitoring.fields import whole_number
from app.monitoring.stored import RECENT_CLOSES, recent_closes, request_id_holding, stored_forecast
from app.monitoring.tickers import UNKNOWN_TICKER
from app.services import services_of
from app.trading_days import next_sessions

log = logging.getLogger(__name__)
pages_bp = Blueprint("pages", __name__)
_REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._:-]{1,64}")  # the registry's request id labels


def _max_horizon():
    predictor = services_of().predictor
    return predictor.max_horizon if predictor else 30


def _form(error: FormError | None = None, status=200, ticker="", horizon=""):
    """The form, with the values the person typed kept after an error."""
    return render_template("index.html", error=error, model_error=services_of().model_error,
                           max_horizon=_max_horizon(), max_upload_mb=current_app.config["MAX_UPLOAD_MB"],
                           ticker=ticker or "", horizon=horizon or "5", request_id=g.get("request_id")), status


def _message(heading, message, status):
    return render_template("message.html", heading=heading, message=message), status


@pages_bp.get("/")
def upload_form():
    """The upload form: CSV file, optional ticker, horizon."""
    return _form()


def _form_without_model(_reason):
    return _form(MODEL_NOT_LOADED, 503, request_field("ticker"), request_field("horizon"))


@pages_bp.post("/")
@requires_model(unavailable=_form_without_model)
def forecast_page():
    """Forecast from the form, then redirect (303) to the forecast's own page, so a reload never re-submits."""
    ticker, horizon = request_field("ticker") or "", request_field("horizon") or ""
    try:
        answer = forecast_from_request(RECENT_CLOSES)
    except (InvalidInput, ServiceUnavailable, ForecastInputError) as exc:
        if isinstance(exc, ForecastInputError):
            exc = InvalidInput("invalid_prices", str(exc))
        # The page words it for a person; the log keeps the detail under the request id.
        log.info("form forecast refused (request_id=%s): %s: %s", g.request_id, exc.code, exc.message)
        return _form(form_error(exc, ticker), exc.status, ticker, horizon)
    location = _stored_location(answer)
    if location is None:  # not in the registry: shown once, it cannot have an address of its own
        history = answer["history"]
        return _forecast_html(answer, history["dates"], history["closes"], reloadable=False)
    return redirect(location, 303)


def _stored_location(answer):
    """The address of the stored forecast, or None when the registry did not keep it."""
    registry = services_of().registry.get()
    if not answer["registered"] or registry is None:
        return None
    last = answer["predictions"][-1]
    request_id = request_id_holding(registry, answer["ticker"], answer["model_version"], answer["last_date"],
                                    last["date"], last["close"])
    if request_id is None:
        return None
    stored = stored_forecast(registry, request_id)
    extra = {} if stored and stored["horizon"] == answer["horizon"] else {"horizon": answer["horizon"]}
    return url_for("pages.forecast", request_id=request_id, **extra)


@pages_bp.get("/forecasts/<request_id>")
def forecast(request_id):
    """A registered forecast, read back from the registry: reload, bookmark and share it."""
    registry = services_of().registry.get()
    if registry is None:
        return _message("Forecasts cannot be shown right now", "The forecast registry is unavailable. "
                        "Try again in a minute.", 503)
    horizon = request.args.get("horizon")
    try:
        horizon = None if horizon is None else whole_number(horizon, "horizon", 1, _max_horizon())
    except InvalidInput as exc:
        return _message("This forecast address is not valid", exc.message[:1].upper() + exc.message[1:] + ".", 400)
    stored = stored_forecast(registry, request_id, horizon) if _REQUEST_ID_RE.fullmatch(request_id) else None
    if stored is None:
        return _message("No forecast at this address", "No registered forecast has this address. It may come "
                        "from another server, or its registry was reset. Make a new forecast from the form.", 404)
    dates, closes = ([], []) if stored["ticker"] == UNKNOWN_TICKER else \
        recent_closes(registry, stored["ticker"], stored["last_date"])
    return _forecast_html(stored, dates, closes, reloadable=True)


def _forecast_html(answer, history_dates, history_closes, reloadable):
    last_date = dt.date.fromisoformat(answer["last_date"])
    _, calendar = next_sessions(answer["ticker"], last_date, answer["horizon"])
    figure = forecast_figure(history_dates, history_closes, answer["predictions"], answer["last_date"],
                             answer["last_close"])
    predictor = services_of().predictor
    quality = quality_sentence(predictor.card, answer["horizon"]) if predictor else None
    return render_template("result.html", answer=answer, figure=figure, calendar=calendar, quality=quality,
                           reloadable=reloadable, history_shown=len(history_dates))
