"""The HTML pages: the upload form and the forecast it produces."""
from flask import Blueprint, current_app, render_template

from app.api.predict import forecast_from_request
from app.charts import forecast_chart_svg
from app.errors import InvalidInput

pages_bp = Blueprint("pages", __name__)
CHART_HISTORY_DAYS = 120  # recent closes drawn before the forecast


def _form(error=None, status=200):
    predictor = current_app.extensions.get("predictor")
    max_horizon = predictor.max_horizon if predictor else 30
    model_error = current_app.extensions.get("model_error")
    return render_template("index.html", error=error, model_error=model_error, max_horizon=max_horizon,
                           max_upload_mb=current_app.config["MAX_UPLOAD_MB"]), status


@pages_bp.get("/")
def upload_form():
    """The upload form: CSV file, optional ticker, horizon."""
    return _form()


@pages_bp.post("/")
def forecast_page():
    """Run the submitted form through the same path as POST /predict and show the result."""
    if current_app.extensions.get("predictor") is None:
        return _form("The model is not loaded, so no forecast can be made.", 503)
    try:
        answer = forecast_from_request(CHART_HISTORY_DAYS)
    except InvalidInput as exc:
        return _form(exc.message, exc.status)
    history = answer["history"]
    chart = forecast_chart_svg(history["dates"], history["closes"], answer["predictions"])
    return render_template("result.html", answer=answer, chart=chart)
