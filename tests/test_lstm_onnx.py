"""The served forward pass: the ONNX graph written without the onnx package is a valid model, and ONNX
Runtime's LSTM on it gives NumPy's outputs (tests/test_predictor.py compares both with Keras)."""
import numpy as np
import onnx
import pytest

from app.lstm_numpy import NumpyLSTM
from app.lstm_onnx import IR_VERSION, OPSET, OnnxLSTM, lstm_graph
from app.model_store import ModelStore
from app.predictor import Predictor
from tests.conftest import ROOT
from tests.test_forecasting import random_weights

SHIPPED = ModelStore(ROOT / "app" / "models")
SEED = 7
RNG = np.random.default_rng(SEED)


@pytest.mark.parametrize("units", [1, 8, 32])
def test_the_graph_passes_the_onnx_checker_with_the_declared_shapes(units):
    network = NumpyLSTM.from_weights(random_weights(units=units))
    model = onnx.load_from_string(lstm_graph(network))
    onnx.checker.check_model(model, full_check=True)  # full_check runs shape inference as well
    assert model.ir_version == IR_VERSION and [(o.domain, o.version) for o in model.opset_import] == [("", OPSET)]
    (node,) = model.graph.node
    assert node.op_type == "LSTM" and [(a.name, a.i) for a in node.attribute] == [("hidden_size", units)]
    weights = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    assert weights["W"].shape == (1, 4 * units, 1) and weights["R"].shape == (1, 4 * units, units)
    assert weights["B"].shape == (1, 8 * units) and not weights["B"][0, 4 * units:].any()
    shape = [d.dim_param or d.dim_value for d in model.graph.output[0].type.tensor_type.shape.dim]
    assert shape == [1, "batch", units]


@pytest.mark.parametrize("batch", [1, 21, 300])
@pytest.mark.parametrize("units", [8, 32])
def test_onnx_runtime_gives_the_numpy_outputs(units, batch):
    network = NumpyLSTM.from_weights(random_weights(units=units, seed=units))
    windows = RNG.normal(0, 1, (batch, 60))
    served = OnnxLSTM(network)
    np.testing.assert_allclose(served.predict(windows), network.predict(windows), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(served.predict(windows[:, :, None]), served.predict(windows))


@pytest.mark.parametrize("version", SHIPPED.versions())
def test_every_shipped_model_is_served_with_its_numpy_outputs(version):
    predictor = Predictor.load(SHIPPED.path(version))
    windows = RNG.normal(0, 1, (50, predictor.window))
    np.testing.assert_allclose(predictor.lstm.predict(windows), predictor.lstm.network.predict(windows),
                               rtol=1e-5, atol=1e-6)
