"""Validation of pending forecasts against realised closes: sources, the next-trading-day rule, windows."""
import datetime as dt

import numpy as np
import pandas as pd
import pytest

from app.monitoring.prices import ChainSource, UploadedActualsSource, YFinanceSource
from app.monitoring.registry import ForecastRegistry
from app.monitoring.validation import MAX_CLOSE_GAP_DAYS, validate_pending_forecasts

TODAY = dt.date(2024, 1, 20)  # a Saturday; forecasts below target the week of 8-19 January 2024


@pytest.fixture
def registry(tmp_path):
    reg = ForecastRegistry.at_path(str(tmp_path / "forecasts.sqlite3"))
    yield reg
    reg.dispose()


def register(reg, target, predicted, ticker="MSFT", last_close=100.0, made_at="2024-01-05", input_hash="h"):
    return reg.register_forecasts(ticker, made_at, last_close, [{"date": target, "close": predicted}],
                                  "v1", "req", input_hash)


def closes(mapping):
    return pd.Series(list(mapping.values()), index=pd.to_datetime(list(mapping.keys())))


def yfinance_frame(mapping, ticker="MSFT"):
    """A frame shaped like downloadData.fetch_prices' answer (Date index, Open..Volume)."""
    index = pd.DatetimeIndex(pd.to_datetime(list(mapping.keys())), name="Date")
    values = np.array(list(mapping.values()), dtype=float)
    return pd.DataFrame({"Open": values, "High": values, "Low": values, "Close": values,
                         "Adj Close": values, "Volume": 1000.0}, index=index)


def no_network(*args, **kwargs):
    raise AssertionError("yfinance must not be called when uploaded closes suffice")


def validated_rows(reg):
    from sqlalchemy import select

    from app.monitoring.storage import forecasts
    with reg.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(
            select(forecasts).where(forecasts.c.status == "validated").order_by(forecasts.c.target_date))]


def test_validates_from_uploaded_closes_without_network(registry):
    register(registry, "2024-01-16", 102.0)
    register(registry, "2024-01-17", 99.0)
    registry.record_actuals("MSFT", closes({"2024-01-16": 100.0, "2024-01-17": 110.0}))
    source = ChainSource(UploadedActualsSource(registry), YFinanceSource(fetch=no_network))
    result = validate_pending_forecasts(registry, source, days_back=7, today=TODAY)
    assert (result.due, result.validated, result.still_pending, result.pending_total) == (2, 2, 0, 0)
    assert result.by_source == {"uploaded": 2}
    rows = validated_rows(registry)
    assert [(r["actual"], r["abs_error"], r["naive_abs_error"]) for r in rows] == [(100.0, 2.0, 0.0),
                                                                                   (110.0, 11.0, 10.0)]
    assert rows[0]["ape"] == pytest.approx(2.0)          # 100 * |102 - 100| / 100
    assert rows[1]["ape"] == pytest.approx(10.0)         # 100 * |99 - 110| / 110
    assert rows[1]["naive_ape"] == pytest.approx(100 * 10 / 110)
    assert rows[0]["validated_at"] is not None and rows[0]["actual_date"] == dt.date(2024, 1, 16)


def test_a_day_without_trading_is_validated_against_the_next_trading_day(registry):
    # 15 January 2024 was Martin Luther King Day: NYSE closed; the next session was Tuesday the 16th.
    register(registry, "2024-01-15", 101.0)
    registry.record_actuals("MSFT", closes({"2024-01-12": 95.0, "2024-01-16": 104.0}))
    result = validate_pending_forecasts(registry, UploadedActualsSource(registry), today=TODAY)
    assert result.validated == 1
    row = validated_rows(registry)[0]
    assert (row["target_date"], row["actual_date"], row["actual"]) == (dt.date(2024, 1, 15), dt.date(2024, 1, 16),
                                                                       104.0)


def test_a_gap_longer_than_a_holiday_is_missing_data_and_stays_pending(registry):
    register(registry, "2024-01-08", 101.0)
    later = dt.date(2024, 1, 8) + dt.timedelta(days=MAX_CLOSE_GAP_DAYS + 1)
    registry.record_actuals("MSFT", closes({later.isoformat(): 104.0}))
    result = validate_pending_forecasts(registry, UploadedActualsSource(registry), days_back=30, today=TODAY)
    assert (result.validated, result.still_pending) == (0, 1)


def test_todays_close_and_future_targets_are_not_used(registry):
    register(registry, "2024-01-15", 101.0)  # holiday: validated by the close of Tuesday the 16th
    register(registry, "2024-01-22", 101.0)  # not due before the 23rd
    registry.record_actuals("MSFT", closes({"2024-01-16": 100.0, "2024-01-22": 100.0}))
    # On the 16th that session may still be trading (yfinance then reports a live price): not used yet.
    result = validate_pending_forecasts(registry, UploadedActualsSource(registry), today=dt.date(2024, 1, 16))
    assert (result.due, result.validated, result.still_pending) == (1, 0, 1)
    result = validate_pending_forecasts(registry, UploadedActualsSource(registry), today=dt.date(2024, 1, 17))
    assert (result.due, result.validated, result.pending_total) == (1, 1, 1)


def test_only_targets_within_days_back_are_validated(registry):
    register(registry, "2024-01-08", 101.0)
    register(registry, "2024-01-18", 101.0)
    registry.record_actuals("MSFT", closes({"2024-01-08": 100.0, "2024-01-18": 100.0}))
    result = validate_pending_forecasts(registry, UploadedActualsSource(registry), days_back=7, today=TODAY)
    assert (result.due, result.validated, result.pending_total) == (1, 1, 1)
    result = validate_pending_forecasts(registry, UploadedActualsSource(registry), days_back=30, today=TODAY)
    assert (result.validated, result.pending_total) == (1, 0)


def test_yfinance_answers_what_uploads_do_not(registry):
    register(registry, "2024-01-16", 102.0)
    register(registry, "2024-01-17", 102.0, ticker="AAPL")
    registry.record_actuals("MSFT", closes({"2024-01-16": 100.0}))
    calls = []

    def fake_fetch(ticker, start, end):
        calls.append((ticker, start, end))
        return yfinance_frame({"2024-01-16": 180.0, "2024-01-17": 185.0, "2024-01-18": 190.0})

    result = validate_pending_forecasts(registry, ChainSource(UploadedActualsSource(registry),
                                                              YFinanceSource(fetch=fake_fetch)), today=TODAY)
    assert result.by_source == {"uploaded": 1, "yfinance": 1}
    # Up to the session whose close validates the forecast (the 17th, a NYSE session) inclusive; yfinance
    # treats `end` as exclusive, hence the 18th.
    assert calls == [("AAPL", "2024-01-17", "2024-01-18")]
    assert [r["actual"] for r in validated_rows(registry)] == [100.0, 185.0]


def test_a_failing_price_source_leaves_forecasts_pending_and_says_why(registry):
    register(registry, "2024-01-16", 102.0)

    def offline(ticker, start, end):
        raise ConnectionError("no network")

    result = validate_pending_forecasts(registry, YFinanceSource(fetch=offline), today=TODAY)
    assert (result.validated, result.still_pending) == (0, 1)
    assert result.errors == ["yfinance MSFT: ConnectionError: no network"]
    assert "source errors 1" in result.summary()


def test_unknown_ticker_forecasts_are_skipped(registry):
    register(registry, "2024-01-16", 102.0, ticker="UNKNOWN")
    result = validate_pending_forecasts(registry, YFinanceSource(fetch=no_network), today=TODAY)
    assert (result.due, result.skipped_unknown, result.validated, result.still_pending) == (1, 1, 0, 0)


def test_a_forecast_without_last_close_gets_no_naive_error(registry):
    register(registry, "2024-01-16", 102.0, last_close=None)
    registry.record_actuals("MSFT", closes({"2024-01-16": 100.0}))
    validate_pending_forecasts(registry, UploadedActualsSource(registry), today=TODAY)
    row = validated_rows(registry)[0]
    assert row["abs_error"] == 2.0 and row["naive_abs_error"] is None and row["naive_ape"] is None


def test_running_validation_twice_validates_each_forecast_once(registry):
    register(registry, "2024-01-16", 102.0)
    registry.record_actuals("MSFT", closes({"2024-01-16": 100.0}))
    rows = registry.pending()
    update = {"id": rows[0]["id"], "actual": 100.0, "actual_date": dt.date(2024, 1, 16), "abs_error": 2.0,
              "ape": 2.0, "naive_abs_error": 0.0, "naive_ape": 0.0}
    assert registry.mark_validated([update]) == [rows[0]["id"]]
    assert registry.mark_validated([update]) == []  # a concurrent second validator counts nothing
    assert validate_pending_forecasts(registry, UploadedActualsSource(registry), today=TODAY).validated == 0


def test_a_spent_time_budget_defers_the_remaining_tickers(registry):
    register(registry, "2024-01-16", 102.0, ticker="AAPL")
    register(registry, "2024-01-16", 102.0, ticker="MSFT")
    calls = []

    def slow_fetch(ticker, start, end):
        calls.append(ticker)
        return yfinance_frame({"2024-01-16": 100.0})

    result = validate_pending_forecasts(registry, YFinanceSource(fetch=slow_fetch), today=TODAY, time_budget_s=-1)
    assert calls == [] and (result.validated, result.deferred, result.still_pending) == (0, 2, 2)
    assert "2 deferred to the next run" in result.summary()
    result = validate_pending_forecasts(registry, YFinanceSource(fetch=slow_fetch), today=TODAY, time_budget_s=60)
    assert result.validated == 2 and result.deferred == 0
