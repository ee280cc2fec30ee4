"""Data download: yfinance -> downloadData/data/<SYMBOL>_data.csv."""
