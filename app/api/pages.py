"""The HTML pages: the upload form and the forecast it produces."""
from flask import Blueprint, current_app, render_template

from app.api.guards import requires_model
from app.api.uploads import forecast_from_request
from app.charts import forecast_chart_svg
from app.errors import InvalidInput, ServiceUnavailable
from app.services import services_of

pages_bp = Blueprint("pages", __name__)
CHART_HISTORY_DAYS = 120  # recent closes drawn before the forecast


def _form(error=None, status=200):
    services = services_of()
    max_horizon = services.predictor.max_horizon if services.predictor else 30
    model_error = services.model_error
    return render_template("index.html", error=error, model_error=model_error, max_horizon=max_horizon,
                           max_upload_mb=current_app.config["MAX_UPLOAD_MB"]), status


@pages_bp.get("/")
def upload_form():
    """The upload form: CSV file, optional ticker, horizon."""
    return _form()


@pages_bp.post("/")
@requires_model(unavailable=lambda _reason: _form("The model is not loaded, so no forecast can be made.", 503))
def forecast_page():
    """Run the submitted form through the same path as POST /predict and show the result."""
    try:
        answer = forecast_from_request(CHART_HISTORY_DAYS)
    except (InvalidInput, ServiceUnavailable) as exc:
        return _form(exc.message, exc.status)
    history = answer["history"]
    chart = forecast_chart_svg(history["dates"], history["closes"], answer["predictions"])
    return render_template("result.html", answer=answer, chart=chart)
