"""The user-facing error contract: InvalidInput (the user's mistake), ServiceUnavailable (ours or upstream's),
and the JSON error response."""
import json

from flask import Response

# Messages may quote user input: escaped, markup stays inert even for a client that sniffs the body as HTML.
_HTML_SAFE = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


class InvalidInput(Exception):
    """A user mistake: `code` is a short snake_case tag, `message` says what is wrong and how to fix it."""

    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status  # 400 bad content, 413 too large, 415 not a CSV / wrong content type

    def __repr__(self):
        return f"InvalidInput({self.code!r}, {self.message!r}, status={self.status})"


class ServiceUnavailable(Exception):
    """Something the request needs is down (the model, the registry, the price source): answered 503.

    Not the user's mistake: the message says what is down and what the user can do meanwhile.
    """

    status = 503

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def error_response(status: int, code: str, message: str, **extra) -> Response:
    """Return the JSON body {"error": code, "message": message, **extra} with `status`."""
    # Built without jsonify so it also works outside an app context (WSGI wrappers, 413 handlers).
    body = json.dumps({"error": code, "message": message, **extra}).translate(_HTML_SAFE)
    return Response(body, status=status, mimetype="application/json")
