"""POST /predict: the JSON forecast API."""
from flask import Blueprint

from app.api.guards import requires_model
from app.api.uploads import forecast_from_request

predict_bp = Blueprint("predict", __name__)


@predict_bp.post("/predict")
@predict_bp.post("/predict/auto")  # the name the Streamlit monitoring app's API gave the forecast by ticker
@requires_model
def predict():
    """Forecast the next closes from an uploaded CSV, or from a ticker's fetched history."""
    return forecast_from_request()
