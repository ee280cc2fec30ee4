"""The peer projects' serving style, as the in-run reference: Keras `model.predict` on every request.

Same artifact and preprocessing as ours; only the forward pass differs (Keras per request vs NumPy).
Run by bench/bench_api.py under gunicorn; not part of the product.
"""
import io

import keras
import numpy as np
import pandas as pd
from flask import Flask, request

from app.forecasting import model_input
from app.predictor import Predictor

predictor = Predictor.load("app/model")
model = keras.models.load_model("app/model/model_lstm.keras")
app = Flask(__name__)


@app.post("/predict")
def predict():
    closes = pd.read_csv(io.BytesIO(request.get_data()))["Close"].to_numpy()
    window = model_input(closes, predictor.window, predictor.scaler)
    scaled = float(model.predict(window[np.newaxis], verbose=0)[0, 0])
    return {"predicted_close": float(closes[-1] * np.exp(predictor.scaler.inverse(scaled)))}
