"""The public front: Debian's nginx with Docker/nginx/templates in front of the real gunicorn, on loopback.

Stalled uploads stay in nginx, oversized uploads get the API's JSON 413 even from a client that writes its whole
body first, a burst gets JSON 429s with Retry-After, and one request id is in nginx's log, gunicorn's log and the
answer. Timings are printed, not asserted (the machine is shared); behaviour is asserted.
"""
import http.client
import json
import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.conftest import SAMPLE_CSV
from tests.nginx import NGINX, nginx_server, stall_upload
from tests.server import gunicorn_server, require_component

STALLED_UPLOADS = 8


@pytest.fixture(scope="module")
def front(tmp_path_factory):
    """gunicorn (2 sync workers, as shipped) behind nginx with the compose defaults."""
    require_component(NGINX, "nginx")
    with gunicorn_server(tmp_path_factory.mktemp("api"), workers=2) as api, \
            nginx_server(tmp_path_factory.mktemp("nginx"), [api.url.split("//")[1]]) as nginx:
        yield api, nginx


@pytest.fixture(scope="module")
def history():
    """The header and the last 300 days of the shipped S&P 500 history, as CSV bytes."""
    lines = SAMPLE_CSV.read_bytes().splitlines(keepends=True)
    return b"".join(lines[:1] + lines[-300:])


def forecast(url, history, horizon=3, **headers):
    return requests.post(url + "/predict", data=history, params={"horizon": horizon}, timeout=30,
                         headers={"Content-Type": "text/csv", **headers})


def still_waiting(sock):
    """True when the server has neither answered nor closed this connection."""
    sock.setblocking(False)
    try:
        sock.recv(1)  # an answer's first byte, or b"" for a closed connection: either way it is not waiting
        return False
    except BlockingIOError:
        return True
    finally:
        sock.setblocking(True)


def timed(call):
    start = time.perf_counter()
    response = call()
    return response, (time.perf_counter() - start) * 1000


def test_other_clients_are_answered_while_uploads_stall(front, history):
    api, nginx = front

    def posts_seen_by_gunicorn():
        return sum(1 for line in api.log().splitlines() if '"POST /predict' in line)

    time.sleep(0.5)
    before = posts_seen_by_gunicorn()
    stalled = [stall_upload(nginx.url) for _ in range(STALLED_UPLOADS)]
    try:
        time.sleep(0.5)  # nginx has accepted and is buffering them
        answered, health_ms = timed(lambda: requests.get(nginx.url + "/health", timeout=20))
        predicted, forecast_ms = timed(lambda: forecast(nginx.url, history))
        print(f"\nwith {STALLED_UPLOADS} stalled uploads through nginx: /health {health_ms:.1f} ms, "
              f"forecast {forecast_ms:.1f} ms")
        assert answered.status_code == 200 and predicted.status_code == 200, predicted.text
        assert len(predicted.json()["predictions"]) == 3
        # The stalls are still held open by nginx, and none of them reached a gunicorn worker.
        assert all(still_waiting(sock) for sock in stalled)
        deadline = time.monotonic() + 5
        while posts_seen_by_gunicorn() == before and time.monotonic() < deadline:
            time.sleep(0.1)  # gunicorn logs just after answering
        assert posts_seen_by_gunicorn() - before == 1
    finally:
        for sock in stalled:
            sock.close()


def test_oversized_upload_from_a_write_first_client_gets_the_json_413(front, client):
    _, nginx = front
    host, port = nginx.url.split("//")[1].split(":")
    body = b"x" * (30 * 1024 * 1024)
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    connection.request("POST", "/predict", body=body, headers={"Content-Type": "text/csv"})  # writes all first
    response = connection.getresponse()
    answer = json.loads(response.read())
    connection.close()
    assert response.status == 413 and response.getheader("Content-Type") == "application/json"
    # The same body the API itself answers for an upload over MAX_UPLOAD_MB (10 MB in both).
    direct = client.post("/predict", data=b"x" * (11 * 1024 * 1024), content_type="text/csv")
    assert direct.status_code == 413 and answer == direct.get_json()


def test_a_burst_from_one_client_gets_json_429_with_retry_after(front):
    _, nginx = front

    def send(_):
        return requests.post(nginx.url + "/predict", data=b"", headers={"Content-Type": "text/csv"}, timeout=30)

    time.sleep(6)  # refill the client's allowance used by earlier tests (10/s, burst 50)
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(send, range(150)))
    refused = [a for a in answers if a.status_code == 429]
    print(f"\nburst of 150 requests in 8 threads: {len(refused)} answered 429")
    assert refused and len(refused) < len(answers)
    assert all(a.json()["error"] == "too_many_requests" and a.headers["Retry-After"] == "1" for a in refused)
    assert {a.status_code for a in answers} == {400, 429}  # the rest reached the API: an empty body is a 400
    time.sleep(1.5)
    assert send(0).status_code == 400, "the client is served again after Retry-After"


def test_a_person_or_a_paced_script_is_not_throttled(front, history):
    _, nginx = front
    time.sleep(6)
    statuses = []
    for _ in range(30):  # one forecast every 0.1 s: the documented default rate
        statuses.append(forecast(nginx.url, history).status_code)
        time.sleep(0.1)
    assert statuses == [200] * 30


def wait_for_line(read_lines, needle, timeout=5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [line for line in read_lines() if needle in line]
        if found:
            return found
        time.sleep(0.1)
    return []


@pytest.mark.parametrize("sent", ["trace-4f2a:7", None])
def test_one_request_id_in_nginx_log_app_log_and_answer(front, history, sent):
    api, nginx = front
    time.sleep(0.5)
    answer = forecast(nginx.url, history, **({"X-Request-ID": sent} if sent else {}))
    assert answer.status_code == 200, answer.text
    request_id = answer.headers["X-Request-ID"]
    assert request_id == answer.json()["request_id"] == (sent or request_id)
    assert re.fullmatch(r"[0-9a-f]{32}", request_id) or sent
    assert "," not in request_id  # one header, not nginx's and the API's both
    assert wait_for_line(nginx.access_lines, f"request_id={request_id}")
    assert wait_for_line(lambda: api.log().splitlines(), f"request_id={request_id}")


def test_an_unsafe_request_id_is_replaced(front):
    _, nginx = front
    answer = requests.get(nginx.url + "/health", headers={"X-Request-ID": "bad id<script>"}, timeout=10)
    assert re.fullmatch(r"[0-9a-f]{32}", answer.headers["X-Request-ID"])


def test_metrics_are_not_public_and_json_is_gzipped(front, history):
    api, nginx = front
    hidden = requests.get(nginx.url + "/metrics", timeout=10)
    assert hidden.status_code == 404 and hidden.json()["error"] == "not_found"
    assert "http_requests_total" in requests.get(api.url + "/metrics", timeout=10).text  # inside, it is there
    time.sleep(0.5)
    answer = forecast(nginx.url, history, horizon=30)  # over gzip_min_length
    assert answer.headers.get("Content-Encoding") == "gzip" and len(answer.json()["predictions"]) == 30


def test_api_keeps_a_safe_incoming_request_id_and_replaces_others(client):
    assert client.get("/health", headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"] == "abc-123"
    replaced = client.get("/health", headers={"X-Request-ID": "x" * 65}).headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", replaced)
