"""Forecast registry: registration, de-duplication, ticker rules, concurrent writers, unusable databases."""
import sqlite3
import time

import pandas as pd
import pytest
from flask import Flask
from sqlalchemy.exc import OperationalError

import app.monitoring as monitoring
from app.errors import InvalidInput
from app.monitoring import storage
from app.monitoring.registry import ForecastRegistry, input_fingerprint
from app.monitoring.tickers import normalise_ticker
from tests.conftest import run_processes


def forecast_rows(start="2024-01-08", horizon=3, base=100.0):
    """Rows shaped like /predict's `predictions` on consecutive weekdays."""
    days = pd.bdate_range(start, periods=horizon)
    return [{"date": d.date().isoformat(), "close": base + i, "lower_80": base + i - 1, "upper_80": base + i + 1,
             "lower_95": base + i - 2, "upper_95": base + i + 2} for i, d in enumerate(days)]


@pytest.fixture
def registry(tmp_path):
    reg = ForecastRegistry.at_path(str(tmp_path / "forecasts.sqlite3"))
    yield reg
    reg.dispose()


def register(reg, ticker="MSFT", rows=None, version="v1", input_hash="hash-a", request_id="req-1"):
    return reg.register_forecasts(ticker=ticker, made_at="2024-01-05", last_close=99.0,
                                  forecast_rows=rows if rows is not None else forecast_rows(),
                                  model_version=version, request_id=request_id, input_hash=input_hash)


def test_registers_every_horizon_step_with_its_fields(registry):
    assert register(registry) == 3
    rows = registry.pending()
    assert [r["horizon_step"] for r in rows] == [1, 2, 3]
    assert [r["target_date"].isoformat() for r in rows] == ["2024-01-08", "2024-01-09", "2024-01-10"]
    first = rows[0]
    assert (first["ticker"], first["made_at"].isoformat(), first["predicted"], first["last_close"]) == \
        ("MSFT", "2024-01-05", 100.0, 99.0)
    assert (first["lower_80"], first["upper_95"], first["model_version"], first["request_id"]) == \
        (99.0, 102.0, "v1", "req-1")
    assert first["status"] == "pending" and first["actual"] is None


def test_the_same_forecast_is_registered_once_however_often_requested(registry):
    assert register(registry) == 3
    for attempt in range(7):
        assert register(registry, request_id=f"retry-{attempt}") == 0
    assert registry.count_all() == 3
    assert registry.counts() == {"pending": 3, "validated": 0}


@pytest.mark.parametrize("change", [{"input_hash": "hash-b"}, {"version": "v2"}, {"ticker": "AAPL"}])
def test_a_different_input_model_or_ticker_is_a_new_forecast(registry, change):
    assert register(registry) == 3
    assert register(registry, **change) == 3
    assert registry.count_all() == 6


def test_a_longer_horizon_adds_only_the_new_target_dates(registry):
    register(registry, rows=forecast_rows(horizon=2))
    assert register(registry, rows=forecast_rows(horizon=5)) == 3


def test_input_fingerprint_depends_on_closes_and_date():
    assert input_fingerprint([1.0, 2.0], "2024-01-05") == input_fingerprint([1, 2], pd.Timestamp("2024-01-05"))
    assert input_fingerprint([1.0, 2.0], "2024-01-05") != input_fingerprint([1.0, 2.5], "2024-01-05")
    assert input_fingerprint([1.0, 2.0], "2024-01-05") != input_fingerprint([1.0, 2.0], "2024-01-08")


def test_actuals_are_stored_overwritten_and_never_kept_for_unknown(registry):
    closes = pd.Series([10.0, 11.0, 12.0], index=pd.to_datetime(["2024-01-08", "2024-01-09", "2024-01-10"]))
    assert registry.record_actuals("MSFT", closes) == 3
    assert registry.record_actuals("MSFT", pd.DataFrame({"close": [11.5]}, index=pd.to_datetime(["2024-01-09"]))) == 1
    assert registry.actual_closes("MSFT").tolist() == [10.0, 11.5, 12.0]
    assert registry.actual_closes("MSFT", "2024-01-09", "2024-01-09").tolist() == [11.5]
    assert registry.record_actuals("UNKNOWN", closes) == 0
    assert registry.actual_closes("UNKNOWN").empty


def test_record_actuals_since_keeps_only_useful_dates(registry):
    closes = pd.Series([10.0, 11.0, 12.0], index=pd.to_datetime(["2024-01-08", "2024-01-09", "2024-01-10"]))
    assert registry.record_actuals("MSFT", closes, since="2024-01-09") == 2


@pytest.mark.parametrize("field, filename, expected", [
    ("msft", None, "MSFT"),
    ("  petr4.sa ", "ignored_data.csv", "PETR4.SA"),
    ("^gspc", None, "^GSPC"),
    ("brk-b", None, "BRK-B"),
    ("eurusd=x", None, "EURUSD=X"),
    (None, "GSPC_data.csv", "GSPC"),
    ("", "petr4.sa_DATA.CSV", "PETR4.SA"),
    (None, r"C:\fakepath\MSFT_data.csv", "MSFT"),
    (None, "prices.csv", "UNKNOWN"),
    (None, "my stock_data.csv", "UNKNOWN"),  # a file name that is no symbol is not the user's ticker choice
    ("   ", None, "UNKNOWN"),
    (None, None, "UNKNOWN"),
])
def test_normalise_ticker(field, filename, expected):
    assert normalise_ticker(field, filename) == expected


@pytest.mark.parametrize("field, fragment", [
    ("<script>alert(1)</script>", "not a valid symbol"),
    ("A" * 16, "1 to 15 characters"),
    ("MS FT", "A-Z, 0-9"),
    ("MSFT;DROP", "not a valid symbol"),
    ("MSFT\u0000", "not a valid symbol"),
    ("ÄPFEL", "not a valid symbol"),
])
def test_invalid_ticker_field_is_a_clear_400(field, fragment):
    with pytest.raises(InvalidInput) as caught:
        normalise_ticker(field, "MSFT_data.csv")
    assert caught.value.status == 400 and caught.value.code == "invalid_ticker"
    assert fragment in caught.value.message


def _writer(path, worker, n):
    """One process's share of the concurrent-writer test: n distinct forecasts plus one shared duplicate."""
    reg = ForecastRegistry.at_path(path)
    for i in range(n):
        reg.register_forecasts("MSFT", "2024-01-05", 99.0, [{"date": "2024-01-08", "close": 100.0 + i}],
                               "v1", f"w{worker}-{i}", f"w{worker}-{i}")
        reg.register_forecasts("AAPL", "2024-01-05", 99.0, [{"date": "2024-01-08", "close": 1.0}],
                               "v1", f"w{worker}-{i}", "shared")
    reg.dispose()


def _run_writers(path, n, timeout):
    """Four processes running _writer at once; their exit codes."""
    return run_processes(_writer, [(path, w, n) for w in range(4)], timeout)


def test_concurrent_processes_lose_no_row(tmp_path):
    path = str(tmp_path / "forecasts.sqlite3")
    ForecastRegistry.at_path(path).dispose()  # schema first, as init_app does at start-up
    assert _run_writers(path, 200, 120) == [0, 0, 0, 0]
    reg = ForecastRegistry.at_path(path)
    assert reg.counts("MSFT")["pending"] == 800
    assert reg.counts("AAPL")["pending"] == 1
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_concurrent_schema_creation(tmp_path):
    path = str(tmp_path / "fresh.sqlite3")
    assert _run_writers(path, 5, 60) == [0, 0, 0, 0]
    assert ForecastRegistry.at_path(path).counts("MSFT")["pending"] == 20


def test_wal_is_checkpointed_in_the_background_not_in_the_request(tmp_path, monkeypatch):
    from app.monitoring import wal

    monkeypatch.setattr(wal, "CHECKPOINT_INTERVAL_S", 0.05)
    path = tmp_path / "forecasts.sqlite3"
    reg = ForecastRegistry.at_path(str(path))
    with sqlite3.connect(str(path)) as conn:
        assert conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 1000  # a plain connection: default
    with reg.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0  # the registry's: off
    size_before = path.stat().st_size
    for i in range(40):
        register(reg, rows=forecast_rows(horizon=30), input_hash=f"h{i}")
    deadline = time.monotonic() + 10
    while path.stat().st_size == size_before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert path.stat().st_size > size_before  # the rows reached the main file without a request doing it
    reg.dispose()


def test_locked_database_is_reported_and_recovers(registry, tmp_path, monkeypatch):
    monkeypatch.setattr(storage, "SQLITE_BUSY_TIMEOUT_MS", 200)
    reg = ForecastRegistry.at_path(str(tmp_path / "forecasts.sqlite3"))
    holder = sqlite3.connect(str(tmp_path / "forecasts.sqlite3"), isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    with pytest.raises(OperationalError):
        register(reg)
    assert "database is locked" in reg.last_error
    holder.execute("ROLLBACK")
    holder.close()
    assert register(reg) == 3
    assert reg.last_error is None


def test_init_app_on_an_unusable_path_keeps_the_reason_instead_of_crashing(tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the registry folder should be")
    app = Flask("registry_test", instance_path=str(tmp_path / "instance"))
    app.config["REGISTRY_PATH"] = str(blocker / "forecasts.sqlite3")
    handle = monitoring.init_app(app)
    assert handle.get() is None
    reason = handle.problem()
    assert "cannot open the forecast registry" in reason and str(blocker) in reason


def test_init_app_defaults_to_the_instance_folder_and_retries(tmp_path, monkeypatch):
    app = Flask("registry_test", instance_path=str(tmp_path / "instance"))
    app.config["REGISTRY_PATH"] = str(tmp_path / "file" / "x.sqlite3")
    (tmp_path / "file").write_text("")
    handle = monitoring.init_app(app)
    assert handle.get() is None
    app.config["REGISTRY_PATH"] = ""
    monkeypatch.setattr(monitoring, "RETRY_SECONDS", 0.0)
    assert handle.problem() is None  # the next check reopens, now at the default path
    handle.close()
    assert (tmp_path / "instance" / "forecasts.sqlite3").exists()
