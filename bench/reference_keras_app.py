"""The in-run reference: a server that calls Keras `model.predict` on every request.

Same artifact and preprocessing as ours; only the forward pass differs (Keras per request vs NumPy).
Run by bench/bench_api.py under gunicorn; not part of the product.
"""
import io

import keras
import numpy as np
import pandas as pd
from flask import Flask, request

from app.model_store import ModelStore
from app.predictor import WEIGHTS_FILE, Predictor

CHAMPION = ModelStore("app/models").default_champion_path()
predictor = Predictor.load(CHAMPION)
model = keras.saving.load_model(CHAMPION / WEIGHTS_FILE, compile=False)
app = Flask(__name__)


@app.post("/predict")
def predict():
    closes = pd.read_csv(io.BytesIO(request.get_data()))["Close"].to_numpy()
    window = predictor.scaler.transform(np.diff(np.log(closes)))[-predictor.window:]
    scaled = model.predict(window[np.newaxis, :, np.newaxis].astype("float32"), verbose=0)[0]
    return {"predicted_close": float(closes[-1] * np.exp(predictor.scaler.inverse(scaled)[0]))}
