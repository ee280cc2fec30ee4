"""POST /predict: the JSON forecast API."""
from flask import Blueprint, current_app, g

from app.api.uploads import read_upload, request_field
from app.errors import error_response
from app.forecast_service import ForecastRequest, run_forecast

predict_bp = Blueprint("predict", __name__)


def model_unavailable():
    """The 503 answered while no usable model is loaded."""
    reason = current_app.extensions.get("model_error") or "the model is not loaded"
    return error_response(503, "model_unavailable", f"no forecasts can be made: {reason}")


def forecast_from_request(history_days=0):
    """Build the ForecastRequest from the current HTTP request and run it."""
    data, filename = read_upload()
    req = ForecastRequest(data=data, ticker_field=request_field("ticker"), filename=filename,
                          horizon_field=request_field("horizon"), request_id=g.request_id)
    return run_forecast(current_app, req, history_days)


@predict_bp.post("/predict")
@predict_bp.post("/predict/auto")  # the name the Streamlit monitoring app's API gave the forecast by ticker
def predict():
    """Forecast the next closes from an uploaded CSV, or from a ticker's fetched history."""
    if current_app.extensions.get("predictor") is None:
        return model_unavailable()
    return forecast_from_request()
