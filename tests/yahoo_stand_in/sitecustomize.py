"""Imported at start-up by a test server's interpreter (its PYTHONPATH starts here): downloadData's one network
function answers from tests/yahoo_stand_in/market.py instead of Yahoo Finance."""
import downloadData.downloadData as dd
from tests.yahoo_stand_in.market import download_raw

dd.download_raw = download_raw
