"""What the upload form says when a forecast cannot be made: a heading and a sentence in the form's words."""
from __future__ import annotations

from dataclasses import dataclass

from app.errors import InvalidInput


@dataclass(frozen=True)
class FormError:
    """A problem shown above the form."""

    heading: str
    message: str


# Error codes whose API message speaks of HTTP fields or quotes library errors: the form says it its own way.
_REWORDED = {
    "missing_file": ("Nothing to forecast",
                     "Choose a CSV file of daily prices, or type a ticker to fetch its recent prices."),
    "price_source_unavailable": ("Prices could not be fetched",
                                 "Yahoo Finance did not answer for {ticker}. Upload a CSV file of its prices "
                                 "instead, or try again later."),
    "unknown_ticker": ("Unknown ticker",
                       "Yahoo Finance has no prices for {ticker}. Check the symbol (for example MSFT, PETR4.SA "
                       "or ^GSPC), or upload a CSV file."),
    "unsupported_media_type": ("The form was not sent as expected",
                               "Choose the file with the form's file field and press Forecast again."),
    "missing_file_name": ("The file could not be read", "The chosen file has no name. Choose it again."),
}
_HEADINGS = {
    "invalid_ticker": "Ticker not recognised",
    "bad_horizon": "Horizon out of range",
    "too_few_rows": "Not enough price history",
}
FILE_HEADING = "The file could not be read"  # every other problem is in the CSV itself


def form_error(exc: InvalidInput, ticker: str | None) -> FormError:
    """The heading and sentence for an InvalidInput raised while forecasting from the form."""
    if exc.code in _REWORDED:
        heading, message = _REWORDED[exc.code]
        return FormError(heading, message.format(ticker=(ticker or "this ticker").strip().upper()))
    message = exc.message[:1].upper() + exc.message[1:]
    return FormError(_HEADINGS.get(exc.code, FILE_HEADING), message if message.endswith(".") else message + ".")


MODEL_NOT_LOADED = FormError("Forecasts are unavailable", "The model is not loaded, so no forecast can be made. "
                                                          "The server's log says why.")
