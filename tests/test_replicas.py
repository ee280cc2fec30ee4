"""Two API replicas on one PostgreSQL registry behind nginx, as the compose "scale" profile runs them.

Real components on loopback: PostgreSQL (Debian `postgresql`), two gunicorn servers with the same DATABASE_URL,
and Debian's nginx with Docker/nginx/templates balancing over both. Forecasts spread over both replicas, each is
stored once, the replicas' request counters add up to what was sent, and either replica gives the same report.
"""
import time

import pandas as pd
import psycopg
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import SAMPLE_CSV
from tests.nginx import NGINX, nginx_server
from tests.postgres import create_database, postgres_server
from tests.server import gunicorn_server, require_component

FORECASTS = 24
HORIZON = 2


@pytest.fixture(scope="module")
def replicas(tmp_path_factory):
    require_component(NGINX, "nginx")
    with postgres_server() as server_url:
        database = create_database(server_url)
        env = {"DATABASE_URL": database, "VALIDATION_PRICE_SOURCE": "uploaded"}
        with gunicorn_server(tmp_path_factory.mktemp("replica_a"), workers=2, env=env) as first, \
                gunicorn_server(tmp_path_factory.mktemp("replica_b"), workers=2, env=env) as second, \
                nginx_server(tmp_path_factory.mktemp("nginx"), [first.url.split("//")[1],
                                                                  second.url.split("//")[1]]) as nginx:
            yield nginx, [first, second], database


def windows(count, rows=300):
    """`count` different price histories: the shipped S&P 500, each ending one day earlier."""
    frame = pd.read_csv(SAMPLE_CSV)
    return [frame.iloc[len(frame) - rows - i:len(frame) - i].to_csv(index=False).encode() for i in range(count)]


def post_requests(replica_urls):
    """Sum of http_requests_total for POST answers over the replicas (each merges its own workers)."""
    total = 0.0
    for url in replica_urls:
        for family in text_string_to_metric_families(requests.get(url + "/metrics", timeout=10).text):
            total += sum(s.value for s in family.samples
                         if s.name == "http_requests_total" and s.labels.get("method") == "POST")
    return total


def stored_rows(database, ticker):
    """request_id -> the answered forecast's rows of `ticker` in the shared registry (challengers' shadow rows,
    stored with the same request id, left out)."""
    with psycopg.connect(database.replace("postgresql+psycopg", "postgresql")) as conn:
        return dict(conn.execute("SELECT request_id, COUNT(*) FROM forecasts WHERE ticker = %s "
                                 "AND role <> 'challenger' GROUP BY request_id", (ticker,)).fetchall())


def forecast_upstreams(nginx):
    """The API replica nginx sent each forecast to, in order."""
    return [line.split("upstream=")[1].split()[0] for line in nginx.access_lines() if "POST /predict" in line]


def new_forecast_upstreams(nginx, already, expected, timeout=5):
    """The replicas of the forecasts after the first `already` (nginx logs just after answering)."""
    deadline = time.monotonic() + timeout
    while len(upstreams := forecast_upstreams(nginx)[already:]) < expected and time.monotonic() < deadline:
        time.sleep(0.1)
    return upstreams


def test_forecasts_spread_are_stored_once_and_counted_once(replicas):
    nginx, servers, database = replicas
    before = post_requests([s.url for s in servers])
    logged_before = len(forecast_upstreams(nginx))
    answers = []
    with requests.Session() as session:
        for history in windows(FORECASTS):
            answer = session.post(nginx.url + "/predict", data=history, timeout=30,
                                  params={"ticker": "REPL", "horizon": HORIZON}, headers={"Content-Type": "text/csv"})
            assert answer.status_code == 200, answer.text
            answers.append(answer.json())
        # The same forecast again, to each replica in turn: already stored, so not stored again.
        repeats = [session.post(nginx.url + "/predict", data=windows(1)[0], timeout=30,
                                params={"ticker": "REPL", "horizon": HORIZON},
                                headers={"Content-Type": "text/csv"}).json() for _ in range(4)]
    sent = FORECASTS + len(repeats)

    upstreams = new_forecast_upstreams(nginx, logged_before, sent)
    spread = {server.url.split("//")[1]: upstreams.count(server.url.split("//")[1]) for server in servers}
    print(f"\n{sent} forecasts through nginx over two replicas: {spread}")
    assert all(count > 0 for count in spread.values()) and sum(spread.values()) == sent

    rows = stored_rows(database, "REPL")
    assert all(a["registered"] for a in answers)
    assert {a["request_id"]: HORIZON for a in answers}.items() <= rows.items()
    # "registered" means the forecast is in the registry; the repeats found it there and added no rows.
    assert all(r["registered"] for r in repeats) and not {r["request_id"] for r in repeats} & set(rows)
    assert sum(rows.values()) == FORECASTS * HORIZON

    counted = post_requests([s.url for s in servers]) - before
    for _ in range(20):  # a worker may count its request just after the answer has left
        if counted >= sent:
            break
        time.sleep(0.1)
        counted = post_requests([s.url for s in servers]) - before
    assert counted == sent


def test_the_performance_report_is_the_same_from_either_replica(replicas):
    nginx, servers, _ = replicas
    frame = pd.read_csv(SAMPLE_CSV)
    closes = frame.tail(20).to_csv(index=False).encode()
    first, second = servers
    with requests.Session() as session:
        assert session.post(nginx.url + "/predict", data=frame.iloc[-310:-10].to_csv(index=False).encode(),
                            params={"ticker": "SAME", "horizon": 5}, timeout=30,
                            headers={"Content-Type": "text/csv"}).status_code == 200
        assert session.post(first.url + "/monitoring/actuals", params={"ticker": "SAME"}, data=closes,
                            headers={"Content-Type": "text/csv"}, timeout=30).status_code == 200
        validated = session.post(second.url + "/monitoring/validate", params={"days_back": 36500}, timeout=30).json()
    assert validated["validated"] >= 5, validated

    def report(server):
        body = requests.get(server.url + "/monitoring/performance", params={"ticker": "SAME"}, timeout=30).json()
        body.pop("generated_at")
        return body

    from_first, from_second = report(first), report(second)
    assert from_first["metrics"]["mae"] is not None
    assert from_first == from_second
