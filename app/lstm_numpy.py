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
    def from_keras_file(cls, path: str | Path) -> NumpyLSTM:
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
    def from_weights(cls, arrays) -> NumpyLSTM:
        """From [kernel, recurrent_kernel, bias, dense_kernel, dense_bias] (keras get_weights() order)."""
        kernel, recurrent, bias, head_kernel, head_bias = (np.asarray(a, np.float64) for a in arrays)
        units = recurrent.shape[0]
        if (recurrent.shape != (units, 4 * units) or kernel.shape[1] != 4 * units
                or bias.shape != (4 * units,) or head_kernel.shape != (units, 1) or head_bias.shape != (1,)):
            raise UnsupportedModel("weight shapes do not match one LSTM layer followed by Dense(1)")
        return cls(kernel, recurrent, bias, head_kernel, head_bias)

    def predict(self, windows: np.ndarray) -> np.ndarray:
        """Outputs (batch,) for inputs (batch, steps) or (batch, steps, features); vectorised over the batch."""
        x = np.asarray(windows, dtype=np.float32)
        if x.ndim == 2:
            x = x[:, :, None]
        # OpenBLAS multithreads a GEMM above ~2**18 multiply-adds; for matrices this small the thread
        # hand-off costs far more than it saves (10-20x slower on a busy 2-core host), so big batches run
        # in row blocks whose recurrent matmul stays below that threshold.
        block = max(1, (2 ** 18 - 1) // (4 * self.units * self.units))
        if x.shape[0] <= block:
            return self._forward(x)
        return np.concatenate([self._forward(x[i:i + block]) for i in range(0, x.shape[0], block)])

    def _forward(self, x: np.ndarray) -> np.ndarray:
        """The recurrence for one block, in float32 like Keras (float64 tanh is several times slower)."""
        batch, steps, units = x.shape[0], x.shape[1], self.units
        kernel, recurrent, bias = self._scaled_weights()
        # The input projection as einsum's plain loop: x @ kernel has an inner dimension of 1 feature, a shape
        # OpenBLAS handles badly (1.2 ms for 21 windows against 0.08 ms here, same numbers).
        inputs = np.ascontiguousarray(np.einsum("bsf,fg->sbg", x, kernel)) + bias  # (steps, batch, 4*units)
        h = np.zeros((batch, units), np.float32)
        c = np.zeros((batch, units), np.float32)
        for t in range(steps):
            z = h @ recurrent  # plain @, not matmul(out=...): the out= form bypasses BLAS and is ~10x slower
            z += inputs[t]
            np.tanh(z, out=z)
            gates = z * 0.5  # sigmoid(a) = 0.5 * tanh(a / 2) + 0.5; the a / 2 is folded into the weights
            gates += 0.5
            c *= gates[:, units:2 * units]
            c += gates[:, :units] * z[:, 2 * units:3 * units]
            h = gates[:, 3 * units:] * np.tanh(c)
        return (h.astype(np.float64) @ self.head_kernel + self.head_bias)[:, 0]

    def _scaled_weights(self):
        """float32 weights with the i, f, o gate columns halved, so one tanh yields all four gates."""
        cached = self.__dict__.get("_scaled")
        if cached is None:
            units = self.units
            scale = np.full(4 * units, 0.5)
            scale[2 * units:3 * units] = 1.0
            cached = tuple((w * scale).astype(np.float32) for w in (self.kernel, self.recurrent, self.bias))
            object.__setattr__(self, "_scaled", cached)  # frozen dataclass: cache once, weights never change
        return cached


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
