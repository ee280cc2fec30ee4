"""NumPy forward pass of the Keras LSTM -> Dense model, read straight from the .keras zip (no TensorFlow)."""
from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

SUPPORTED = "Sequential(Input, LSTM(tanh/sigmoid, last state only), [Dropout], Dense(1, linear))"


class UnsupportedModel(ValueError):
    """The .keras file is readable but is not the architecture this forward pass implements."""


@dataclass(frozen=True)
class NumpyLSTM:
    """One LSTM layer (Keras gate order i, f, g, o) followed by a linear Dense(1) head."""

    kernel: np.ndarray      # (features, 4*units)
    recurrent: np.ndarray   # (units, 4*units)
    bias: np.ndarray        # (4*units,)
    head_kernel: np.ndarray  # (units, 1)
    head_bias: np.ndarray    # (1,)

    @property
    def units(self) -> int:
        return self.recurrent.shape[0]

    @classmethod
    def from_keras_file(cls, path: str | Path) -> "NumpyLSTM":
        """Read config.json + model.weights.h5 from a Keras 3 .keras archive and check the architecture."""
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
            weights = archive.read("model.weights.h5")
        lstm_name, dense_name = _check_architecture(config)
        with h5py.File(io.BytesIO(weights), "r") as h5:
            cell = h5[f"layers/{lstm_name}/cell/vars"]
            head = h5[f"layers/{dense_name}/vars"]
            arrays = [np.asarray(cell[k], np.float64) for k in ("0", "1", "2")]
            arrays += [np.asarray(head[k], np.float64) for k in ("0", "1")]
        return cls.from_weights(arrays)

    @classmethod
    def from_weights(cls, arrays) -> "NumpyLSTM":
        """From [kernel, recurrent_kernel, bias, dense_kernel, dense_bias] (keras get_weights() order)."""
        kernel, recurrent, bias, head_kernel, head_bias = (np.asarray(a, np.float64) for a in arrays)
        units = recurrent.shape[0]
        if (recurrent.shape != (units, 4 * units) or kernel.shape[1] != 4 * units
                or bias.shape != (4 * units,) or head_kernel.shape != (units, 1) or head_bias.shape != (1,)):
            raise UnsupportedModel("weight shapes do not match one LSTM layer followed by Dense(1)")
        return cls(kernel, recurrent, bias, head_kernel, head_bias)

    def predict(self, windows: np.ndarray) -> np.ndarray:
        """Outputs (batch,) for inputs (batch, steps) or (batch, steps, features); vectorised over the batch."""
        x = np.asarray(windows, dtype=np.float64)
        if x.ndim == 2:
            x = x[:, :, None]
        units = self.units
        # sigmoid(z) = 0.5 * (1 + tanh(z / 2)): one tanh over all four gates per step is the fast path.
        scale = np.full(4 * units, 0.5)
        scale[2 * units:3 * units] = 1.0
        inputs = (x @ (self.kernel * scale) + self.bias * scale)  # (batch, steps, 4*units)
        recurrent = self.recurrent * scale
        h = np.zeros((x.shape[0], units))
        c = np.zeros((x.shape[0], units))
        for t in range(x.shape[1]):
            act = np.tanh(inputs[:, t] + h @ recurrent)
            gates = 0.5 * act + 0.5  # only i, f and o slices of this are used
            c = gates[:, units:2 * units] * c + gates[:, :units] * act[:, 2 * units:3 * units]
            h = gates[:, 3 * units:] * np.tanh(c)
        return (h @ self.head_kernel + self.head_bias)[:, 0]


def _check_architecture(config: dict) -> tuple[str, str]:
    """Names of the LSTM and Dense layers, or UnsupportedModel if the graph is anything else."""
    if config.get("class_name") != "Sequential":
        raise UnsupportedModel(f"expected {SUPPORTED}, got a {config.get('class_name')} model")
    layers = [layer for layer in config["config"]["layers"]
              if layer["class_name"] not in ("InputLayer", "Dropout")]
    kinds = [layer["class_name"] for layer in layers]
    if kinds != ["LSTM", "Dense"]:
        raise UnsupportedModel(f"expected {SUPPORTED}, got layers {kinds}")
    lstm, dense = layers[0]["config"], layers[1]["config"]
    expected = {"activation": "tanh", "recurrent_activation": "sigmoid", "use_bias": True,
                "return_sequences": False, "go_backwards": False}
    wrong = {k: lstm.get(k) for k, v in expected.items() if lstm.get(k) != v}
    if wrong:
        raise UnsupportedModel(f"LSTM settings {wrong} are not supported; expected {expected}")
    if dense.get("units") != 1 or dense.get("activation") != "linear" or not dense.get("use_bias"):
        raise UnsupportedModel("the last layer must be Dense(1) with a linear activation and a bias")
    return lstm["name"], dense["name"]
