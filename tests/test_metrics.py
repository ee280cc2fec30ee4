"""app.metrics on a minimal Flask app: labels stay bounded, counters and error sums match hand-computed values."""
import math

import pytest
from flask import Flask
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from app import metrics

FIXED_NAMES = [
    "http_requests_total", "http_request_duration_seconds", "model_inference_duration_seconds",
    "model_predictions_total", "model_prediction_error_absolute", "model_prediction_errors_total",
    "model_prediction_absolute_error_total", "model_prediction_squared_error_total",
    "model_prediction_absolute_percentage_error_total", "forecasts_registered_total",
    "forecasts_validated_total", "forecasts_pending", "forecasts_last_validation_timestamp_seconds",
]


def build_app(registry):
    """A tiny app shaped like the real one: a POST route, a route with a converter, one that fails."""
    app = Flask(__name__)
    app.api_metrics = api_metrics = metrics.init_app(app, registry=registry)

    @app.post("/predict")
    def predict():
        api_metrics.observe_inference(0.0003)
        api_metrics.count_prediction()
        return {"ok": True}

    @app.get("/items/<int:item_id>")
    def item(item_id):
        return {"id": item_id}

    @app.get("/boom")
    def boom():
        raise RuntimeError("unexpected")

    return app


@pytest.fixture()
def registry():
    return CollectorRegistry()


@pytest.fixture()
def client(registry):
    return build_app(registry).test_client()


def value(registry, name, **labels):
    return registry.get_sample_value(name, labels) or 0.0


def series(registry):
    """Every (sample name, labels) pair the registry exports."""
    return {(s.name, tuple(sorted(s.labels.items()))) for m in registry.collect() for s in m.samples}


def test_requests_counted_by_method_rule_and_status(client, registry):
    for _ in range(3):
        assert client.post("/predict").status_code == 200
    client.get("/items/1")
    client.get("/items/2")
    client.get("/items/x")  # the converter rejects it: no rule matched
    client.get("/predict")  # 405: routing fails too
    assert value(registry, "http_requests_total", method="POST", endpoint="/predict", status="200") == 3
    assert value(registry, "http_requests_total", method="GET", endpoint="/items/<int:item_id>",
                 status="200") == 2
    assert value(registry, "http_requests_total", method="GET", endpoint="<unmatched>", status="404") == 1
    assert value(registry, "http_requests_total", method="GET", endpoint="<unmatched>", status="405") == 1
    assert value(registry, "http_request_duration_seconds_count", method="POST", endpoint="/predict",
                 status="200") == 3
    assert value(registry, "model_predictions_total") == 3
    assert value(registry, "model_inference_duration_seconds_count") == 3


def test_unhandled_exception_is_counted_as_500(client, registry):
    assert client.get("/boom").status_code == 500
    assert value(registry, "http_requests_total", method="GET", endpoint="/boom", status="500") == 1
    assert value(registry, "http_request_duration_seconds_count", method="GET", endpoint="/boom",
                 status="500") == 1


def test_unknown_method_is_counted_as_other(client, registry):
    client.open("/predict", method="BREW")
    assert value(registry, "http_requests_total", method="other", endpoint="<unmatched>", status="405") == 1


def test_inference_histogram_resolves_sub_millisecond(registry):
    m = metrics.ApiMetrics(registry)
    assert sum(1 for b in metrics.INFERENCE_BUCKETS if b < 0.001) >= 4
    m.observe_inference(0.0003)
    assert value(registry, "model_inference_duration_seconds_bucket", le="0.00025") == 0
    assert value(registry, "model_inference_duration_seconds_bucket", le="0.0005") == 1


def test_error_sums_match_hand_computed_values(registry):
    m = metrics.ApiMetrics(registry)
    # lstm errors |1|, |-1|, |5| on actual 100 each; naive errors |-2|, |0|, |3|.
    m.record_errors("backtest", [101.0, 99.0, 105.0], [100.0, 100.0, 100.0], [98.0, 100.0, 103.0])
    labels = {"source": "backtest", "forecaster": "lstm"}
    assert value(registry, "model_prediction_errors_total", **labels) == 3
    assert value(registry, "model_prediction_absolute_error_total", **labels) == pytest.approx(7.0)
    assert value(registry, "model_prediction_squared_error_total", **labels) == pytest.approx(27.0)
    assert value(registry, "model_prediction_absolute_percentage_error_total", **labels) == pytest.approx(7.0)
    naive = {"source": "backtest", "forecaster": "naive"}
    assert value(registry, "model_prediction_errors_total", **naive) == 3
    assert value(registry, "model_prediction_absolute_error_total", **naive) == pytest.approx(5.0)
    assert value(registry, "model_prediction_squared_error_total", **naive) == pytest.approx(13.0)
    assert value(registry, "model_prediction_absolute_percentage_error_total", **naive) == pytest.approx(5.0)
    assert value(registry, "model_prediction_error_absolute", source="backtest") == pytest.approx(7.0 / 3)

    # A second batch on another price level: percentages differ from price-unit errors.
    m.record_errors("validated", [55.0], [50.0], [49.0])
    validated = {"source": "validated", "forecaster": "lstm"}
    assert value(registry, "model_prediction_absolute_percentage_error_total", **validated) == pytest.approx(10.0)
    assert value(registry, "model_prediction_error_absolute", source="validated") == pytest.approx(5.0)
    assert value(registry, "model_prediction_error_absolute", source="backtest") == pytest.approx(7.0 / 3)
    # MAE / RMSE / MAPE as the recording rules compute them, from the sums.
    mae = 7.0 / 3
    rmse = math.sqrt(27.0 / 3)
    mape = 7.0 / 3
    assert (value(registry, "model_prediction_absolute_error_total", **labels)
            / value(registry, "model_prediction_errors_total", **labels)) == pytest.approx(mae)
    assert math.sqrt(value(registry, "model_prediction_squared_error_total", **labels)
                     / value(registry, "model_prediction_errors_total", **labels)) == pytest.approx(rmse)
    assert (value(registry, "model_prediction_absolute_percentage_error_total", **labels)
            / value(registry, "model_prediction_errors_total", **labels)) == pytest.approx(mape)


def test_unusable_error_rows_are_skipped(registry):
    m = metrics.ApiMetrics(registry)
    m.record_errors("backtest", [101.0, float("nan"), 10.0, 102.0], [100.0, 100.0, 0.0, 100.0],
                    [100.0, 100.0, 1.0, float("inf")])
    assert value(registry, "model_prediction_errors_total", source="backtest", forecaster="lstm") == 1
    m.record_errors("backtest", [float("nan")], [100.0], [100.0])
    assert value(registry, "model_prediction_errors_total", source="backtest", forecaster="lstm") == 1


@pytest.mark.parametrize("args, message", [
    (("live", [1.0], [1.0], [1.0]), "source must be one of"),
    (("backtest", [1.0, 2.0], [1.0], [1.0]), "equal lengths, got 2, 1, 1"),
])
def test_bad_error_records_raise(registry, args, message):
    with pytest.raises(ValueError, match=message):
        metrics.ApiMetrics(registry).record_errors(*args)


def test_error_series_exist_at_zero_from_the_start(registry):
    metrics.ApiMetrics(registry)
    for source in metrics.SOURCES:
        for forecaster in metrics.FORECASTERS:
            assert registry.get_sample_value("model_prediction_errors_total",
                                             {"source": source, "forecaster": forecaster}) == 0.0


def test_registration_and_validation_counters(registry):
    m = metrics.ApiMetrics(registry)
    m.count_registered(3)
    m.count_registered(True)
    m.count_registered(False)
    m.count_registered(0)
    assert value(registry, "forecasts_registered_total") == 4
    m.record_validation(5, 2, 1_700_000_000.0)
    m.record_validation(0, 2, 1_700_086_400.0)
    m.publish_registry_state(7)
    assert value(registry, "forecasts_validated_total") == 5
    assert value(registry, "forecasts_pending") == 7
    assert value(registry, "forecasts_last_validation_timestamp_seconds") == 1_700_086_400.0


def test_the_app_records_into_the_metrics_object_it_was_given(registry, tmp_path):
    """create_app hands its metrics to the forecast path and the registry: no lookup through the current app."""
    from app import create_app
    from app.services import services_of

    app = create_app({"TESTING": True, "REGISTRY_PATH": str(tmp_path / "r.sqlite3"), "DATABASE_URL": ""})
    services = services_of(app)
    try:
        assert services.registry.get() is not None
        services.metrics.publish_registry_state(3, 1_700_000_000.0)
        text = app.test_client().get("/metrics").get_data(as_text=True)
        assert "forecasts_pending 3.0" in text
        assert "forecasts_last_validation_timestamp_seconds 1.7e+09" in text
    finally:
        services.registry.close()


def test_metrics_endpoint_serves_every_fixed_name_in_text_format():
    app = build_app(registry=None)  # the default registry carries the process, GC and platform collectors
    client = app.test_client()
    client.post("/predict")
    m = app.api_metrics
    m.record_errors("backtest", [101.0], [100.0], [100.0])
    m.record_validation(1, 0, 1_700_000_000.0)
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    samples = {s.name for f in text_string_to_metric_families(response.get_data(as_text=True)) for s in f.samples}
    for name in FIXED_NAMES + ["process_cpu_seconds_total", "process_resident_memory_bytes",
                               "python_gc_objects_collected_total"]:
        assert any(s == name or s.startswith(name + "_") for s in samples), name
    # The scrape itself is counted once it has been answered.
    client.get("/metrics")
    third = client.get("/metrics").get_data(as_text=True)
    assert 'http_requests_total{endpoint="/metrics",method="GET",status="200"} 2.0' in third


def test_two_apps_in_one_process_do_not_collide():
    build_app(registry=None)
    build_app(registry=None)
