"""Read what a client sent (a multipart field `file`, a text/csv body, or none: forecast by ticker) and forecast."""
from flask import current_app, g, request

from app.errors import InvalidInput
from app.forecast_service import ForecastRequest, run_forecast
from app.services import services_of

CSV_MIMETYPES = {"text/csv", "application/csv", "text/plain", "application/vnd.ms-excel"}
NO_BODY_MIMETYPES = {"", "application/x-www-form-urlencoded", "application/json"}


def forecast_from_request(history_days=0):
    """Run the forecast the current HTTP request asks for (JSON API and HTML form alike)."""
    data, filename = read_upload()
    req = ForecastRequest(data=data, ticker_field=request_field("ticker"), filename=filename,
                          horizon_field=request_field("horizon"), request_id=g.request_id)
    return run_forecast(services_of(), current_app.config, req, history_days)


def read_upload():
    """Return (csv_bytes or None, client file name or None); the upload stays in memory."""
    mimetype = request.mimetype
    if mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None or (not upload.filename and not upload.content_length):
            return _none_or_empty(upload)
        data = upload.read()
        if not data:
            raise InvalidInput("empty_file", f"the uploaded file {upload.filename!r} is empty; choose a CSV with "
                                             "columns Date, Open, High, Low, Close, Volume")
        return data, upload.filename
    if mimetype in CSV_MIMETYPES:
        data = _read_body()
        if not data:
            raise InvalidInput("empty_file", "the request body is empty; send the CSV text as the body")
        return data, None
    if mimetype in NO_BODY_MIMETYPES:
        return None, None
    raise InvalidInput("unsupported_media_type",
                       f"content type {mimetype!r} is not accepted; send the CSV as multipart/form-data field "
                       "'file' or as a body with Content-Type: text/csv", status=415)


def _read_body():
    """The whole request body; a body over MAX_CONTENT_LENGTH raises 413 even without a Content-Length."""
    # get_data() stops quietly at the limit on a chunked body (werkzeug's readall), which would forecast from a
    # silently cut file; reading past the limit in pieces makes the limited stream raise RequestEntityTooLarge.
    if request.content_length is not None:
        return request.get_data(cache=False)  # a declared length over the limit was refused before reading
    chunks = []
    while chunk := request.stream.read(64 * 1024):
        chunks.append(chunk)
    return b"".join(chunks)


def _none_or_empty(upload):
    """A form submitted without choosing a file counts as no file."""
    if upload is not None and upload.read(1):
        raise InvalidInput("missing_file_name", "the uploaded file has no name; send it as field 'file'")
    return None, None


def request_field(name):
    """A form, query-string or JSON field, or None."""
    value = request.values.get(name)
    if value is None and request.is_json:
        body = request.get_json(silent=True)
        value = body.get(name) if isinstance(body, dict) else None
    return None if value is None else str(value)
