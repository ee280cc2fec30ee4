"""Oversized and truncated uploads through the real gunicorn: refused with a JSON 413 or 400, never a 500."""
import contextlib
import json
import socket

import pandas as pd
import pytest
import requests

from tests.conftest import SAMPLE_CSV
from tests.server import gunicorn_server

LIMIT_MB = 1
BOUNDARY = "reliabilityBoundary7f3a"


def long_csv(min_bytes):
    """A valid price CSV (the shipped history re-dated over and over) of at least `min_bytes`."""
    frame = pd.read_csv(SAMPLE_CSV)
    copies, start = [], pd.Timestamp("1900-01-01")
    while sum(len(c) for c in copies) < min_bytes:
        dated = frame.assign(Date=pd.bdate_range(start, periods=len(frame)).strftime("%Y-%m-%d"))
        copies.append(dated.to_csv(index=False, header=not copies).encode())
        start += pd.offsets.BDay(len(frame) + 1)
    return b"".join(copies)


def one_year_csv():
    return pd.read_csv(SAMPLE_CSV).tail(252).to_csv(index=False).encode()


def multipart(data, filename="GSPC_data.csv"):
    """A multipart/form-data body with one file field `file` (and the closing boundary)."""
    head = (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            "Content-Type: text/csv\r\n\r\n").encode()
    return head + data + f"\r\n--{BOUNDARY}--\r\n".encode()


def chunked(data, size=64 * 1024):
    """`data` in HTTP/1.1 chunked transfer coding."""
    out = [f"{len(data[i:i + size]):x}\r\n".encode() + data[i:i + size] + b"\r\n" for i in range(0, len(data), size)]
    return b"".join(out) + b"0\r\n\r\n"


def raw_request(url, head_lines, body, half_close=True, timeout=15):
    """Send a hand-made HTTP request on a socket; return (status, headers dict, body bytes) of the answer."""
    host, port = url.split("//")[1].split(":")
    request = ("\r\n".join(["POST /predict HTTP/1.1", "Host: localhost", "Connection: close", *head_lines])
               + "\r\n\r\n").encode() + body
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        # The server may answer 413 and close before reading everything: sending then fails with EPIPE or
        # ECONNRESET, and half-closing a socket the server already closed fails with ENOTCONN. The answer is
        # read below either way.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(request)
        if half_close:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_WR)  # the client is done sending: the body stays short
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except ConnectionResetError:
            pass
    head, _, payload = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split()[1]), headers, payload


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with gunicorn_server(tmp_path_factory.mktemp("limits"), env={"MAX_UPLOAD_MB": str(LIMIT_MB)}) as running:
        yield running


def assert_json_error(status, headers, payload, expected_status, code=None, fragment=None):
    assert status == expected_status, payload[:300]
    assert headers.get("Content-Type", "").startswith("application/json"), headers
    body = json.loads(payload)
    assert set(body) >= {"error", "message"}
    if code:
        assert body["error"] == code, body
    if fragment:
        assert fragment in body["message"], body
    return body


def test_an_upload_within_the_limit_is_forecast(server):
    response = requests.post(server.url + "/predict", files={"file": ("GSPC_data.csv", one_year_csv())})
    assert response.status_code == 200 and response.json()["ticker"] == "GSPC"


@pytest.mark.parametrize("path, as_multipart", [("/predict", True), ("/predict", False), ("/", True)],
                         ids=["multipart", "text-csv", "form-page"])
def test_oversized_upload_with_content_length_is_413_json(server, path, as_multipart):
    data = long_csv(int(1.3 * LIMIT_MB * 2**20))
    if as_multipart:
        response = requests.post(server.url + path, files={"file": ("GSPC_data.csv", data)})
    else:
        response = requests.post(server.url + path, data=data, headers={"Content-Type": "text/csv"})
    assert_json_error(response.status_code, response.headers, response.content, 413, "payload_too_large",
                      f"{LIMIT_MB} MB")


@pytest.mark.parametrize("content_type, wrap", [
    ("text/csv", lambda data: data),
    (f"multipart/form-data; boundary={BOUNDARY}", multipart),
], ids=["text-csv", "multipart"])
def test_oversized_chunked_upload_is_413_not_silently_cut(server, content_type, wrap):
    """Without Content-Length the limit is met while reading: the body must be refused, not truncated."""
    body = wrap(long_csv(int(1.3 * LIMIT_MB * 2**20)))
    status, headers, payload = raw_request(
        server.url, [f"Content-Type: {content_type}", "Transfer-Encoding: chunked"], chunked(body))
    assert_json_error(status, headers, payload, 413, "payload_too_large", f"{LIMIT_MB} MB")


def test_a_chunked_upload_within_the_limit_is_forecast(server):
    status, _, payload = raw_request(server.url, ["Content-Type: text/csv", "Transfer-Encoding: chunked"],
                                     chunked(one_year_csv(), size=1000))
    assert status == 200 and json.loads(payload)["last_date"] == "2018-12-31"


def test_a_huge_declared_length_is_refused_before_the_body_arrives(server):
    status, headers, payload = raw_request(
        server.url, ["Content-Type: text/csv", f"Content-Length: {50 * 2**30}"], b"Date,Close\n", half_close=False)
    assert_json_error(status, headers, payload, 413, "payload_too_large")


@pytest.mark.parametrize("case, declared, sent", [
    # Content-Length announces the whole form, the client sends half of it and stops.
    ("half_sent", lambda b: len(b), lambda b: b[:len(b) // 2]),
    # The length matches what is sent, but the form lacks its closing boundary.
    ("no_closing_boundary", lambda b: len(b) - len(f"--{BOUNDARY}--\r\n"),
     lambda b: b[:-len(f"--{BOUNDARY}--\r\n")]),
    # Cut inside the part's own headers.
    ("cut_in_part_headers", lambda b: 60, lambda b: b[:60]),
    # Only a few bytes of the first boundary line.
    ("cut_in_first_boundary", lambda b: 5, lambda b: b[:5]),
])
def test_truncated_multipart_is_a_json_400(server, case, declared, sent):
    body = multipart(one_year_csv())
    status, headers, payload = raw_request(
        server.url, [f"Content-Type: multipart/form-data; boundary={BOUNDARY}", f"Content-Length: {declared(body)}"],
        sent(body))
    assert_json_error(status, headers, payload, 400)


@pytest.mark.parametrize("content_type", ["multipart/form-data", "multipart/form-data; boundary=",
                                          "multipart/form-data; boundary=\"unterminated"])
def test_malformed_multipart_header_is_a_json_4xx(server, content_type):
    body = multipart(one_year_csv())
    status, headers, payload = raw_request(server.url, [f"Content-Type: {content_type}",
                                                        f"Content-Length: {len(body)}"], body)
    assert 400 <= status < 500
    assert_json_error(status, headers, payload, status)


def test_the_server_keeps_answering_after_the_abuse(server):
    assert requests.get(server.url + "/ready").status_code == 200
    test_an_upload_within_the_limit_is_forecast(server)
