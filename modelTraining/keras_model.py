"""The Keras side: a small deterministic LSTM fit with early stopping on the validation part."""
from __future__ import annotations

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter out of the progress lines

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


def make_deterministic(seed: int) -> None:
    """Same data + seed => same weights: seed Python/NumPy/TF and force deterministic kernels."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def build_model(window: int, units: int, learning_rate: float, loss: str, dropout: float = 0.0) -> keras.Model:
    """Input(window, 1) -> LSTM(units) -> [Dropout] -> Dense(1): the architecture app/lstm_numpy.py serves.

    Dropout acts only while training (the served forward pass has no dropout); it keeps the network from
    memorising the noise of daily returns in its first epochs, which is what ended training at epoch 1 or 2.
    """
    layers = [keras.Input(shape=(window, 1), name="scaled_returns"), keras.layers.LSTM(units, name="lstm")]
    if dropout:
        layers.append(keras.layers.Dropout(dropout, name="dropout"))
    model = keras.Sequential([*layers, keras.layers.Dense(1, name="dense")], name="close_return_lstm")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate), loss=loss)
    return model


class EpochProgress(keras.callbacks.Callback):
    """One flushed line per epoch, so long runs show they are alive (also under make/CI)."""

    def __init__(self, epochs: int):
        super().__init__()
        self.epochs, self.started = epochs, time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        print(f"  epoch {epoch + 1:3d}/{self.epochs}  loss {logs.get('loss', float('nan')):.5f}  "
              f"val_loss {logs.get('val_loss', float('nan')):.5f}  ({time.perf_counter() - self.started:.1f} s)",
              flush=True)


def fit(model: keras.Model, train: tuple, validation: tuple, epochs: int, batch_size: int,
        patience: int) -> dict:
    """Fit with early stopping on validation loss, restoring the best epoch's weights."""
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True)
    history = model.fit(train[0][..., None], train[1], validation_data=(validation[0][..., None], validation[1]),
                        epochs=epochs, batch_size=batch_size, shuffle=True, verbose=0,
                        callbacks=[stop, EpochProgress(epochs)])
    val_loss = history.history["val_loss"]
    best = int(np.argmin(val_loss))
    return {"epochs_run": len(val_loss), "best_epoch": best + 1, "best_val_loss": float(val_loss[best]),
            "train_loss_at_best": float(history.history["loss"][best]),
            "loss_curve": [float(v) for v in history.history["loss"]], "val_loss_curve": [float(v) for v in val_loss]}


def library_versions() -> dict:
    """Versions that shaped the artifact, for the card."""
    import platform

    import h5py
    import pandas

    return {"python": platform.python_version(), "tensorflow": tf.__version__, "keras": keras.__version__,
            "numpy": np.__version__, "pandas": pandas.__version__, "h5py": h5py.__version__}
