"""One forecast request from raw input to the answer: shared by the JSON API and the HTML page."""
import logging
import re
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from app.baselines import drift_rate
from app.csv_input import parse_price_csv, price_frame, require_rows
from app.errors import InvalidInput, ServiceUnavailable
from app.monitoring.interval_adjustment import current_adjustment
from app.monitoring.registry import input_fingerprint
from app.monitoring.stored import RECENT_CLOSES
from app.monitoring.tickers import UNKNOWN_TICKER, normalise_ticker
from app.trading_days import next_sessions

log = logging.getLogger(__name__)


@dataclass
class ForecastRequest:
    """What a client sent: CSV bytes (or None to fetch by ticker), the ticker field, the file name, horizon."""

    data: bytes | None
    ticker_field: str | None
    filename: str | None
    horizon_field: str | None
    request_id: str


def parse_horizon(value, max_horizon):
    """Turn the `horizon` field into an int in 1..max_horizon (default 1) or raise InvalidInput."""
    if value is None or str(value).strip() == "":
        return 1
    text = str(value).strip()
    if not re.fullmatch(r"[0-9]{1,4}", text) or not 1 <= int(text) <= max_horizon:
        raise InvalidInput("bad_horizon", f"horizon must be a whole number of trading days from 1 to "
                                          f"{max_horizon}, got {text[:20]!r}")
    return int(text)


def fetch_history(ticker, days):
    """Recent daily history of `ticker`, through the same fetch function as downloadData, checked like an upload."""
    from downloadData.downloadData import DownloadError, fetch_prices  # yfinance is imported only if used

    start = (pd.Timestamp.today().normalize() - pd.Timedelta(days=days)).date().isoformat()
    try:
        frame = fetch_prices(ticker, start=start, end=None)
    except DownloadError as exc:
        if exc.unknown_ticker:
            raise InvalidInput("unknown_ticker", str(exc), status=404) from exc
        raise ServiceUnavailable("price_source_unavailable", f"could not fetch {ticker} from Yahoo Finance ({exc}); "
                                                             "upload a CSV instead or retry later") from exc
    return price_frame(frame.reset_index())


def run_forecast(services, config, req, history_days=0):
    """Validate the request, forecast, record metrics and register the forecast; return the answer dict.

    `services` are the app's (app.services.Services), `config` its settings. With history_days, the answer
    also carries the last closes (for the page's chart).
    """
    started = time.perf_counter()
    lineup = services.lineup.current()  # one champion and set of challengers for the whole request
    predictor, metrics = lineup.champion, services.metrics
    horizon = parse_horizon(req.horizon_field, predictor.max_horizon)
    ticker = normalise_ticker(req.ticker_field, req.filename)
    data = req.data
    if data is None:
        if ticker == UNKNOWN_TICKER:
            raise InvalidInput("missing_file", "send a CSV file (multipart field 'file' or a text/csv body), "
                                               "or a 'ticker' to fetch its recent history")
        frame = fetch_history(ticker, config["TICKER_HISTORY_DAYS"])
    else:
        frame = parse_price_csv(data)
    require_rows(frame, predictor.min_history)
    closes = frame["close"].to_numpy()

    adjustment = current_adjustment(services.registry.get(), predictor.version, predictor.max_horizon)
    inference_started = time.perf_counter()
    forecast, backtest = predictor.forecast_with_backtest(closes, horizon, config["BACKTEST_DAYS"], adjustment)
    metrics.observe_inference(time.perf_counter() - inference_started)
    metrics.count_prediction()
    metrics.models.count_forecast(predictor.version, "champion")
    if backtest is not None:  # one-step forecasts of the upload's last days against the closes that followed
        _record_backtest_errors(metrics, closes, *backtest)

    last_date = frame.index[-1]
    dates, calendar = next_sessions(ticker, last_date.date(), horizon)
    rows = forecast_rows(dates, forecast)
    shadows = shadow_forecasts(lineup.challengers, closes, horizon, dates, metrics)
    seen = closes[-predictor.min_history:]  # what the model used: the same input is registered once
    registered = _register(services, ticker, frame, with_drift(rows, forecast), predictor.version, req.request_id,
                           input_fingerprint(seen, last_date), shadows)
    answer = {
        "ticker": ticker,
        "last_date": last_date.date().isoformat(),
        "last_close": float(closes[-1]),
        "horizon": horizon,
        "predictions": rows,
        "predicted_close": rows[0]["close"],
        "calendar": calendar,
        "model_version": predictor.version,
        "request_id": req.request_id,
        "registered": registered,
        "processing_time_ms": round((time.perf_counter() - started) * 1000, 3),
    }
    if history_days:
        answer["history"] = {"dates": [d.date().isoformat() for d in frame.index[-history_days:]],
                             "closes": [float(c) for c in closes[-history_days:]]}
    return answer


def forecast_rows(dates, forecast) -> list[dict]:
    """One row per forecast day (dates: the trading sessions): the close and its 80%/95% bounds."""
    return [{"date": day.isoformat(), "close": float(forecast.close[i]),
             "lower_80": float(forecast.lower_80[i]), "upper_80": float(forecast.upper_80[i]),
             "lower_95": float(forecast.lower_95[i]), "upper_95": float(forecast.upper_95[i])}
            for i, day in enumerate(dates)]


def with_drift(rows, forecast) -> list[dict]:
    """The rows the registry keeps: each with the drift baseline, so validation can score the model against it
    (the answer does not carry it)."""
    return [{**row, "drift": float(d)} for row, d in zip(rows, forecast.drift, strict=True)]


def shadow_forecasts(challengers, closes, horizon, dates, metrics) -> list[tuple[str, list[dict]]]:
    """Each challenger's forecast of the same closes and horizon, as (version, rows); never shown to the user.

    A challenger that cannot forecast this input (it needs more history, a shorter horizon) or fails is
    skipped and logged: shadowing must never cost the user the champion's answer.
    """
    shadows = []
    for challenger in challengers:
        if len(closes) < challenger.min_history or horizon > challenger.max_horizon:
            continue
        try:
            forecast = challenger.forecast(closes, horizon)
        except Exception:  # noqa: BLE001 - see the docstring
            log.exception("challenger %s failed to forecast", challenger.version)
            continue
        metrics.models.count_forecast(challenger.version, "challenger")
        shadows.append((challenger.version, with_drift(forecast_rows(dates, forecast), forecast)))
    return shadows


def _record_backtest_errors(metrics, closes, predicted, actual):
    """Compare one-step forecasts for the last n days of the upload (n = len(actual)) with the closes that
    followed, beside the naive and drift baselines' forecasts of the same days."""
    n = len(actual)
    naive = closes[-n - 1:-1]
    origins = np.arange(len(closes) - n - 1, len(closes) - 1)
    drift = naive * np.exp(drift_rate(np.diff(np.log(closes)), origins))
    metrics.record_errors("backtest", predicted, actual, naive, drift)


def _register(services, ticker, frame, rows, model_version, request_id, input_hash, shadows=()):
    """Register the forecast (and its challengers' shadows, in the same transaction) and keep the upload's recent
    closes as realised prices; False if the store failed.

    A registry outage must not cost the user the forecast: it is logged, reported by /ready and in the answer.
    Closes uploaded without a ticker are not kept (the registry ignores UNKNOWN): they validate no one's forecast.
    """
    registry = services.registry.get()
    if registry is None:
        return False
    try:
        closes = frame["close"]
        registered = registry.register_forecasts(
            ticker=ticker, made_at=frame.index[-1].date(), last_close=float(closes.iloc[-1]),
            forecast_rows=rows, model_version=model_version, request_id=request_id,
            input_hash=input_hash, shadows=shadows, closes=closes.iloc[-RECENT_CLOSES:])
    except Exception:  # noqa: BLE001 - any storage failure is reported, never turned into a 500
        log.exception("forecast registry write failed (request_id=%s)", request_id)
        return False
    services.metrics.count_registered(registered)
    return True
