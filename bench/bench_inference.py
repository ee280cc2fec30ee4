"""Inference latency of the served NumPy forward pass vs Keras on the same artifact (prints figures and ratios)."""
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

    rows = {
        "numpy forward, 1 window": p50_ms(lambda: predictor.lstm.predict(window), args.repeats),
        "numpy forward, batch of 250 windows": p50_ms(lambda: predictor.lstm.predict(batch),
                                                      max(10, args.repeats // 10)),
        "Predictor.forecast horizon 1": p50_ms(lambda: predictor.forecast(closes, 1), args.repeats),
        "Predictor.forecast horizon 30": p50_ms(lambda: predictor.forecast(closes, 30), max(10, args.repeats // 5)),
        "Predictor.one_step_backtest n=250": p50_ms(lambda: predictor.one_step_backtest(closes, 250),
                                                   max(10, args.repeats // 10)),
        # What /predict runs: the forecast and the 20-day backtest, separately and as one batched pass.
        "forecast h1 + one_step_backtest n=20, two passes": p50_ms(
            lambda: (predictor.forecast(closes, 1), predictor.one_step_backtest(closes, 20)), args.repeats),
        "Predictor.forecast_with_backtest h1, n=20 (one pass)": p50_ms(
            lambda: predictor.forecast_with_backtest(closes, 1, 20), args.repeats),
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
    one, batch_np = rows["numpy forward, 1 window"], rows["numpy forward, batch of 250 windows"]
    predict_one = keras_rows["keras model.predict, 1 window"]
    call_one = keras_rows["keras model(x) direct call, 1 window"]
    print(f"\n  ratio keras model.predict / numpy, 1 window:   {predict_one / one:6.1f}x")
    print(f"  ratio keras model(x) / numpy, 1 window:        {call_one / one:6.1f}x")
    print(f"  ratio keras model.predict / numpy, 250 windows: "
          f"{keras_rows['keras model.predict, batch of 250 windows'] / batch_np:6.1f}x")
    print(f"  one-window goal <= 1 ms p50: {'met' if one <= 1.0 else 'NOT met'} ({one:.3f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
