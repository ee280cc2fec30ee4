"""Inference latency of the served forward pass (ONNX Runtime's LSTM kernel), the NumPy pass that served before,
and Keras, on the same artifact (prints figures and ratios measured in one run)."""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from app.model_store import ModelStore  # noqa: E402
from app.predictor import WEIGHTS_FILE, Predictor  # noqa: E402


def p50_ms(fn, repeats: int, warmup: int = 5) -> float:
    """Median wall time of fn() in milliseconds."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return float(np.median(times) * 1e3)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model-dir", default=str(ModelStore(ROOT / "app" / "models").default_champion_path()),
                        help="an artifact folder (default: the shipped store's default champion)")
    parser.add_argument("--csv", default=str(ROOT / "downloadData" / "data" / "GSPC_data.csv"))
    parser.add_argument("--repeats", type=int, default=300)
    args = parser.parse_args(argv)

    import pandas as pd

    closes = pd.read_csv(args.csv)["Close"].to_numpy()[-1000:]
    started = time.perf_counter()
    predictor = Predictor.load(args.model_dir)
    load_ms = (time.perf_counter() - started) * 1e3
    window = predictor.scaler.transform(np.diff(np.log(closes)))[-predictor.window:][None, :]
    batch = predictor.scaler.transform(np.diff(np.log(closes)))[
        np.arange(len(closes) - 251, len(closes) - 1)[:, None] + np.arange(-predictor.window, 0)]

    numpy_predictor = Predictor(predictor.lstm.network, predictor.scaler, predictor.card)  # the previous path
    batch21 = batch[-21:]
    rows = {}
    for label, served in (("served", predictor), ("numpy", numpy_predictor)):
        network = served.lstm
        rows |= {
            f"{label} forward, 1 window": p50_ms(lambda n=network: n.predict(window), args.repeats),
            f"{label} forward, batch of 21 windows": p50_ms(lambda n=network: n.predict(batch21), args.repeats),
            f"{label} forward, batch of 250 windows": p50_ms(lambda n=network: n.predict(batch),
                                                             max(10, args.repeats // 10)),
            f"{label}: Predictor.forecast horizon 1": p50_ms(lambda p=served: p.forecast(closes, 1), args.repeats),
            f"{label}: Predictor.forecast horizon 30": p50_ms(lambda p=served: p.forecast(closes, 30),
                                                              max(10, args.repeats // 5)),
            # What /predict runs: the forecast and the 20-day backtest in one batched pass.
            f"{label}: Predictor.forecast_with_backtest h1, n=20": p50_ms(
                lambda p=served: p.forecast_with_backtest(closes, 1, 20), args.repeats),
        }
    print(f"Predictor.load (no TensorFlow): {load_ms:.1f} ms; artifact {predictor.version}")

    import keras

    started = time.perf_counter()
    model = keras.saving.load_model(Path(args.model_dir) / WEIGHTS_FILE, compile=False)
    keras_load_ms = (time.perf_counter() - started) * 1e3
    x1, xb = window[..., None].astype("float32"), batch[..., None].astype("float32")
    keras_rows = {
        "keras model.predict, 1 window": p50_ms(lambda: model.predict(x1, verbose=0), max(20, args.repeats // 5)),
        "keras model(x) direct call, 1 window": p50_ms(lambda: model(x1, training=False), max(20, args.repeats // 5)),
        "keras model.predict, batch of 250 windows": p50_ms(lambda: model.predict(xb, verbose=0),
                                                            max(10, args.repeats // 10)),
    }
    print(f"keras.saving.load_model (after importing TensorFlow): {keras_load_ms:.1f} ms\n")
    width = max(map(len, list(rows) + list(keras_rows)))
    for name, value in {**rows, **keras_rows}.items():
        print(f"  {name:<{width}}  p50 {value:9.3f} ms")
    one, batch_np = rows["served forward, 1 window"], rows["served forward, batch of 250 windows"]
    print()
    for name in ("forward, 1 window", "forward, batch of 21 windows", "forward, batch of 250 windows",
                 "Predictor.forecast horizon 1", "Predictor.forecast horizon 30",
                 "Predictor.forecast_with_backtest h1, n=20"):
        sep = " " if name.startswith("forward") else ": "
        print(f"  ratio numpy / served, {name}: {rows['numpy' + sep + name] / rows['served' + sep + name]:6.1f}x")
    predict_one = keras_rows["keras model.predict, 1 window"]
    call_one = keras_rows["keras model(x) direct call, 1 window"]
    print(f"  ratio keras model.predict / served, 1 window:   {predict_one / one:6.1f}x")
    print(f"  ratio keras model(x) / served, 1 window:        {call_one / one:6.1f}x")
    print(f"  ratio keras model.predict / served, 250 windows: "
          f"{keras_rows['keras model.predict, batch of 250 windows'] / batch_np:6.1f}x")
    print(f"  one-window goal <= 1 ms p50: {'met' if one <= 1.0 else 'NOT met'} ({one:.3f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
