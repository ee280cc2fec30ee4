"""Regenerate the CSV fixtures in this folder from 120 real S&P 500 rows (downloadData/data/GSPC_data.csv).

Each file imitates what a real tool writes, produced with the same pandas calls those tools use.
Run: python tests/data/make_fixtures.py
"""
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parents[1] / "downloadData" / "data" / "GSPC_data.csv"
ROWS = 120


def main():
    yahoo = pd.read_csv(SOURCE, dtype=str).tail(ROWS)
    text = yahoo.to_csv(index=False)
    (HERE / "yahoo_download.csv").write_text(text)  # Yahoo Finance "Download" button
    (HERE / "bom_crlf.csv").write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())  # Excel, Windows
    (HERE / "descending.csv").write_text(yahoo.iloc[::-1].to_csv(index=False))  # Yahoo's web table order
    mixed = yahoo.rename(columns={"Date": "date", "Close": "CLOSE", "High": "HIGH", "Adj Close": "adj_close",
                                  "Volume": "volume"}).assign(Note="from Yahoo")
    mixed = mixed[["volume", "CLOSE", "Note", "date", "adj_close", "Open", "HIGH", "Low"]]  # any order, extra column
    (HERE / "mixed_case_columns.csv").write_text(mixed.to_csv(index=False))
    us = yahoo.assign(Date=pd.to_datetime(yahoo["Date"]).dt.strftime("%m/%d/%Y"))
    (HERE / "excel_us_dates.csv").write_text(us.to_csv(index=False))

    prices = pd.read_csv(SOURCE, index_col="Date", parse_dates=True).tail(ROWS)
    # yf.download("^GSPC").to_csv(): (Price, Ticker) column levels give the 3-line header.
    download = prices[["Close", "High", "Low", "Open", "Volume"]]
    download.columns = pd.MultiIndex.from_product([download.columns, ["^GSPC"]], names=["Price", "Ticker"])
    (HERE / "yf_download_multiheader.csv").write_text(download.to_csv())
    # yf.Ticker("^GSPC").history().to_csv(): exchange-local tz-aware stamps, Dividends and Stock Splits.
    history = prices[["Open", "High", "Low", "Close", "Volume"]].assign(**{"Dividends": 0.0, "Stock Splits": 0.0})
    history.index = history.index.tz_localize("America/New_York")
    (HERE / "ticker_history_tz.csv").write_text(history.to_csv())


if __name__ == "__main__":
    main()
