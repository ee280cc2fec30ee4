"""Download script: yfinance-shaped substitute frames, unknown ticker, no network, atomic CSV writes."""
import logging

import numpy as np
import pandas as pd
import pytest

from downloadData import downloadData as dd

DATES = pd.date_range("2024-01-02", periods=4, freq="B", name="Date")
PRICES = {"Open": [10.0, 11, 12, 13], "High": [11.0, 12, 13, 14], "Low": [9.0, 10, 11, 12],
          "Close": [10.5, 11.5, 12.5, 13.5], "Adj Close": [10.4, 11.4, 12.4, 13.4],
          "Volume": [100, 200, 300, 400]}


def yf_download_frame(tickers=("PETR4.SA",), index=DATES):
    """A frame shaped like yfinance.download(): (Price, Ticker) MultiIndex columns, sorted by price."""
    columns = pd.MultiIndex.from_product([sorted(PRICES), list(tickers)], names=["Price", "Ticker"])
    data = {(price, t): np.asarray(PRICES[price], float) * (k + 1)
            for price in sorted(PRICES) for k, t in enumerate(tickers)}
    return pd.DataFrame(data, index=index, columns=columns)


def yf_history_frame():
    """A frame shaped like Ticker.history(): flat columns, tz-aware exchange-time index, no Adj Close."""
    index = pd.DatetimeIndex(DATES.tz_localize("America/Sao_Paulo"), name="Date")
    frame = pd.DataFrame({k: v for k, v in PRICES.items() if k != "Adj Close"}, index=index)
    frame["Dividends"] = 0.0
    frame["Stock Splits"] = 0.0
    return frame


def empty_yf_frame(symbol):
    """What yfinance.download() returns for an unknown ticker or without network."""
    columns = pd.MultiIndex.from_product([sorted(PRICES), [symbol]], names=["Price", "Ticker"])
    return pd.DataFrame(columns=columns, index=pd.DatetimeIndex([], name="Date"))


@pytest.fixture
def substitute(monkeypatch):
    """Replace the one network function with a canned yfinance-shaped frame (or an exception)."""
    def install(result):
        def fake(symbol, start, end):
            if isinstance(result, Exception):
                raise result
            return result(symbol) if callable(result) else result
        monkeypatch.setattr(dd, "download_raw", fake)
    return install


def test_multiindex_download_becomes_clean_csv(substitute, tmp_path, capsys):
    substitute(yf_download_frame())
    assert dd.main(["--ticker", "PETR4.SA", "--start", "2024-01-01", "--out", str(tmp_path)]) == 0
    written = pd.read_csv(tmp_path / "PETR4.SA_data.csv")
    assert list(written.columns) == ["Date", "Open", "High", "Low", "Close", "Adj Close", "Volume"]
    assert written["Date"].tolist() == ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"]
    assert written["Close"].tolist() == PRICES["Close"]
    assert "4 rows 2024-01-02..2024-01-05" in capsys.readouterr().out


def test_multi_ticker_frame_picks_requested_ticker_and_drops_padding_rows():
    frame = yf_download_frame(tickers=("MSFT", "PETR4.SA"))
    frame.iloc[1, frame.columns.get_loc(("Close", "PETR4.SA"))] = np.nan  # a holiday on one exchange
    clean = dd.normalise_frame(frame, "petr4.sa")
    assert clean["Close"].tolist() == [21.0, 25.0, 27.0]
    assert list(clean.columns) == ["Open", "High", "Low", "Close", "Adj Close", "Volume"]


def test_tz_aware_history_frame_keeps_calendar_dates():
    clean = dd.normalise_frame(yf_history_frame(), "PETR4.SA")
    assert clean.index.tz is None
    assert clean.index.equals(pd.DatetimeIndex(DATES, name="Date"))
    assert list(clean.columns) == ["Open", "High", "Low", "Close", "Volume"]


@pytest.mark.parametrize("result, fragment", [
    (empty_yf_frame, "no price data (unknown or delisted ticker"),
    (dd.DownloadError("NOPE: download failed (DNSError('Could not resolve host'))"), "Could not resolve host"),
])
def test_failures_give_one_line_nonzero_exit_and_no_file(substitute, tmp_path, capsys, result, fragment):
    substitute(result)
    assert dd.main(["--ticker", "NOPE", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert fragment in err and err.count("\n") == 1 and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("logged, unknown_ticker", [
    ("DNSError('Failed to perform, curl: (6) Could not resolve host: query2.finance.yahoo.com')", False),
    ("YFTzMissingError('$NOPE: possibly delisted; no timezone found')", True),
])
def test_errors_logged_inside_yfinance_become_download_error(monkeypatch, logged, unknown_ticker):
    """yfinance swallows failures, logs them and returns an empty frame; we surface the cause and its kind."""
    import yfinance

    def failing_download(symbol, **kwargs):
        log = logging.getLogger("yfinance")
        log.error("\n1 Failed download:")
        log.error("['%s']: %s", symbol, logged)
        return empty_yf_frame(symbol)

    monkeypatch.setattr(yfinance, "download", failing_download)
    with pytest.raises(dd.DownloadError) as caught:
        dd.fetch_prices("NOPE", "2020-01-01", "2020-02-01")
    assert logged.split("(")[1][:20] in str(caught.value) and "['NOPE']" not in str(caught.value)
    assert caught.value.unknown_ticker is unknown_ticker
    assert ("unknown or delisted ticker" if unknown_ticker else "cannot reach Yahoo Finance") in str(caught.value)


def test_empty_frame_without_logged_error_is_unknown_ticker(substitute):
    substitute(empty_yf_frame)
    with pytest.raises(dd.DownloadError) as caught:
        dd.fetch_prices("NOPE")
    assert caught.value.unknown_ticker is True


def test_exception_inside_yfinance_becomes_download_error(monkeypatch):
    import yfinance

    def broken(symbol, **kwargs):
        raise ConnectionError("connection reset")

    monkeypatch.setattr(yfinance, "download", broken)
    with pytest.raises(dd.DownloadError, match="cannot reach Yahoo Finance .ConnectionError: connection reset"):
        dd.fetch_prices("MSFT")


def test_one_bad_ticker_does_not_stop_the_others(substitute, tmp_path, capsys):
    substitute(lambda s: empty_yf_frame(s) if s == "BAD" else yf_download_frame((s,)))
    assert dd.main(["--ticker", "MSFT", "--ticker", "BAD", "--out", str(tmp_path)]) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["MSFT_data.csv"]
    assert "BAD" in capsys.readouterr().err


def test_failed_write_leaves_previous_file_and_no_temp_file(tmp_path, monkeypatch):
    target = tmp_path / "MSFT_data.csv"
    target.write_text("previous content\n")

    def explode(self, handle, **kwargs):
        handle.write("Date,Open\n2024-01-02,")
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", explode)
    with pytest.raises(OSError, match="disk full"):
        dd.save_csv(pd.DataFrame({"Close": [1.0]}), target)
    assert target.read_text() == "previous content\n"
    assert [p.name for p in tmp_path.iterdir()] == ["MSFT_data.csv"]


@pytest.mark.parametrize("symbol, name", [
    ("^GSPC", "GSPC_data.csv"), ("PETR4.SA", "PETR4.SA_data.csv"), ("brk-b", "BRK-B_data.csv"),
    ("EURUSD=X", "EURUSDX_data.csv"),
])
def test_csv_name_sanitises_symbol(symbol, name):
    assert dd.csv_name(symbol) == name


@pytest.mark.parametrize("argv, fragment", [
    (["--ticker", "MSFT", "--start", "2024-13-01"], "not a YYYY-MM-DD date"),
    (["--ticker", "MSFT", "--start", "2024-02-01", "--end", "2024-01-01"], "must be after --start"),
])
def test_bad_arguments_exit_nonzero_with_message(argv, fragment, capsys):
    try:
        status = dd.main(argv)
    except SystemExit as exc:  # argparse usage errors
        status = exc.code
    assert status != 0
    assert fragment in capsys.readouterr().err


def test_help_documents_every_option(capsys):
    with pytest.raises(SystemExit):
        dd.main(["--help"])
    out = capsys.readouterr().out
    for option in ("--ticker", "--start", "--end", "--out"):
        assert option in out


@pytest.mark.parametrize("name, first, rows", [("GSPC_data.csv", "1999-01-04", 5031),
                                               ("MSFT_data.csv", "1986-03-13", 7983)])
def test_shipped_sample_data_has_download_layout(name, first, rows):
    frame = pd.read_csv(dd.DEFAULT_OUT / name)
    assert {"Date", "Open", "High", "Low", "Close", "Volume"} <= set(frame.columns)
    assert frame["Date"].iloc[0] == first and len(frame) == rows
