"""The served forward pass: the model's LSTM layer as a one-node ONNX graph run by ONNX Runtime.

ONNX Runtime's LSTM kernel runs the whole recurrence in compiled code, where the NumPy loop of app/lstm_numpy.py
pays Python's and NumPy's per-call cost on each of ~10 small array operations per time step (bench/bench_inference.py
has the figures). The weights still come from the .keras file through NumpyLSTM, whose NumPy pass stays as the
reference the tests compare with; the Dense head is applied here in float64, as there.

The graph is encoded below with a few lines of protobuf writing instead of the `onnx` package: importing `onnx`
costs about 0.6 s and 18 MB in every worker, to build one node. tests/test_lstm_onnx.py checks the bytes with
`onnx.checker` and compares the outputs with NumPy's and Keras's.
"""
from __future__ import annotations

import numpy as np
import onnxruntime

from app.lstm_numpy import NumpyLSTM

# ONNX's IR version and operator set of the encoded graph (the LSTM operator has been stable since opset 14).
IR_VERSION = 8
OPSET = 17
_FLOAT, _ATTRIBUTE_INT = 1, 2  # TensorProto.FLOAT, AttributeProto.INT


class OnnxLSTM:
    """Same interface as NumpyLSTM.predict: outputs (batch,) for windows (batch, steps[, features])."""

    def __init__(self, network: NumpyLSTM):
        self.network = network
        options = onnxruntime.SessionOptions()
        # One thread, no spinning: each gunicorn worker is one request at a time, and the workers fill the cores.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        self.session = onnxruntime.InferenceSession(lstm_graph(network), options,
                                                    providers=["CPUExecutionProvider"])

    @property
    def units(self) -> int:
        return self.network.units

    def predict(self, windows: np.ndarray) -> np.ndarray:
        x = np.asarray(windows, dtype=np.float32)
        if x.ndim == 2:
            x = x[:, :, None]
        steps_first = np.ascontiguousarray(x.transpose(1, 0, 2))  # ONNX's LSTM reads (steps, batch, features)
        (last_h,) = self.session.run(["Y_h"], {"X": steps_first})
        return (last_h[0].astype(np.float64) @ self.network.head_kernel + self.network.head_bias)[:, 0]


def lstm_graph(network: NumpyLSTM) -> bytes:
    """A serialized ONNX ModelProto: input X (steps, batch, features) -> LSTM -> Y_h (1, batch, units)."""
    units, features = network.units, network.kernel.shape[0]
    # Keras orders the gates i, f, c, o; ONNX i, o, f, c. ONNX also splits the bias into input and recurrent halves.
    weights = _reorder(network.kernel).T[None]          # (1, 4*units, features)
    recurrent = _reorder(network.recurrent).T[None]     # (1, 4*units, units)
    bias = np.concatenate([_reorder(network.bias), np.zeros(4 * units)])[None]  # (1, 8*units)
    node = (_strings(1, "X", "W", "R", "B") + _strings(2, "", "Y_h") + _string(3, "lstm") + _string(4, "LSTM")
            + _message(5, _string(1, "hidden_size") + _varint_field(3, units) + _varint_field(20, _ATTRIBUTE_INT)))
    graph = (_message(1, node) + _string(2, "forecast_lstm")
             + _message(5, _tensor("W", weights)) + _message(5, _tensor("R", recurrent))
             + _message(5, _tensor("B", bias))
             + _message(11, _value_info("X", ("steps", "batch", features)))
             + _message(12, _value_info("Y_h", (1, "batch", units))))
    return (_varint_field(1, IR_VERSION) + _string(2, "stock-forecast")
            + _message(7, graph) + _message(8, _string(1, "") + _varint_field(2, OPSET)))


def _reorder(array: np.ndarray) -> np.ndarray:
    i, f, c, o = np.split(array, 4, axis=-1)
    return np.concatenate([i, o, f, c], axis=-1)


def _tensor(name: str, array: np.ndarray) -> bytes:
    data = np.ascontiguousarray(array, dtype="<f4")
    return (b"".join(_varint_field(1, d) for d in data.shape) + _varint_field(2, _FLOAT) + _string(8, name)
            + _bytes(9, data.tobytes()))


def _value_info(name: str, shape) -> bytes:
    dims = b"".join(_message(1, _varint_field(1, d) if isinstance(d, int) else _string(2, d)) for d in shape)
    tensor_type = _varint_field(1, _FLOAT) + _message(2, dims)
    return _string(1, name) + _message(2, _message(1, tensor_type))


# --- protobuf wire format: varints (wire type 0) and length-delimited fields (wire type 2) ---------------------
def _varint(value: int) -> bytes:
    if value < 0:
        raise ValueError("only non-negative integers are encoded here")
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _varint_field(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(int(value))


def _bytes(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _string(number: int, text: str) -> bytes:
    return _bytes(number, text.encode())


def _strings(number: int, *texts: str) -> bytes:
    return b"".join(_string(number, t) for t in texts)


_message = _bytes  # an embedded message is a length-delimited field holding its encoding
