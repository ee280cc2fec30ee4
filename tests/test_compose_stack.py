"""The compose stack as a user runs it: real images, a real Docker engine, talked to through the published ports.

The project's compose file is used unchanged but for an override that binds the published ports to 127.0.0.1 on
free ports. Public images that cannot be pulled are replaced by stand-ins from Debian packages
(Docker/standins/build.sh); a service whose image can be neither pulled nor built (Grafana here) is left out and
named in the test's output.
"""
import datetime as dt
import http.client
import json
import os
import re
import secrets
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
import yaml

from tests.server import ROOT, free_port, wait_for

COMPOSE_FILE = ROOT / "Docker" / "docker-compose.yml"
STANDINS = ROOT / "Docker" / "standins" / "build.sh"
SCALE_ENV = ROOT / "Docker" / "scale.env"
RULES_DIR = ROOT / "prometheus" / "rules"
HEALTHY_WITHIN_S = 90
# Services whose image has no stand-in on machines that cannot pull public images.
MAY_BE_UNAVAILABLE = {"grafana"}
API_UID = "10001"
PUBLIC = "nginx"  # the stack's public port; the API itself is reachable inside the compose network only


def _missing(message):
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def _require_docker():
    if shutil.which("docker") is None:
        _missing("docker CLI not found (.ci/docker-engine.sh installs Debian's docker.io)")
    if subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        _missing("no Docker engine answers (start dockerd; .ci/docker-engine.sh does)")
    version = subprocess.run(["docker", "compose", "version", "--short"], capture_output=True, text=True)
    if version.returncode != 0 or not version.stdout.strip().lstrip("v").startswith("2"):
        _missing("Docker Compose v2 not found (.ci/docker-engine.sh installs it)")


class Stack:
    """One compose project of the stack: runs compose commands, knows its published ports."""

    def __init__(self, workdir: Path, name: str = "", env_file: Path | None = None, env: dict | None = None):
        self.project = f"sftest{name}{os.getpid()}"
        self.override = workdir / "compose.override.yml"
        self.override.write_text("services: {}\n")
        self.ports, self.services = {}, {}
        self.env_file = ["--env-file", str(env_file)] if env_file else []
        # The validator's documented interval knob, short so the test sees its loop turn.
        self.env = dict(os.environ, VALIDATE_INTERVAL_SECONDS="3", **(env or {}))

    def publish_on_loopback(self, services: dict):
        """Each published port of `services` moves to 127.0.0.1 on a free port (the only change to the file)."""
        self.services = services
        published = {name: service["ports"][0]["target"] for name, service in services.items() if service.get("ports")}
        self.ports = {name: free_port() for name in published}
        self.override.write_text(yaml.safe_dump({"services": {
            name: {"ports": [f"127.0.0.1:{self.ports[name]}:{target}"]} for name, target in published.items()
        }}).replace("ports:", "ports: !override"))

    def compose(self, *args, check=True, timeout=600):
        command = ["docker", "compose", "-p", self.project, *self.env_file, "-f", str(COMPOSE_FILE),
                   "-f", str(self.override), *args]
        result = subprocess.run(command, capture_output=True, text=True, env=self.env, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        return result

    def url(self, service):
        return f"http://127.0.0.1:{self.ports[service]}"

    def containers(self, service):
        return self.compose("ps", "-q", service).stdout.split()

    def container(self, service):
        return self.containers(service)[0]

    def health(self, service):
        """The health of each container of `service` (one per replica)."""
        out = subprocess.run(["docker", "inspect", "-f", "{{.State.Health.Status}}", *self.containers(service)],
                             capture_output=True, text=True)
        return out.stdout.split()

    def wait_healthy(self, service, within_s):
        deadline, status = time.monotonic() + within_s, []
        while time.monotonic() < deadline:
            status = self.health(service)
            if status and set(status) == {"healthy"}:
                return
            time.sleep(1)
        raise AssertionError(f"{service} not healthy within {within_s}s (status {status!r}):\n"
                             f"{self.compose('logs', '--tail', '40', service, check=False).stdout}")

    def mounted_volumes(self):
        """Every volume the project's containers mount, named or anonymous (an image's VOLUME would make one)."""
        ids = self.compose("ps", "-a", "-q").stdout.split()
        found = json.loads(subprocess.run(["docker", "inspect", *ids], capture_output=True, text=True).stdout or "[]")
        return {m["Name"] for c in found for m in c["Mounts"] if m["Type"] == "volume"}

    def leftovers(self, volumes=()):
        """Containers, networks and volumes of this project that still exist (`volumes`: names to check too)."""
        label = f"label=com.docker.compose.project={self.project}"
        remaining = [v for v in volumes if subprocess.run(["docker", "volume", "inspect", v],
                                                          capture_output=True).returncode == 0]
        found = {"volumes": remaining} if remaining else {}
        for kind, cmd in (("containers", ["ps", "-a"]), ("networks", ["network", "ls"]), ("volumes", ["volume", "ls"])):
            out = subprocess.run(["docker", *cmd, "-q", "--filter", label], capture_output=True, text=True).stdout
            if out.split():
                found.setdefault(kind, []).extend(out.split())
        return found


def _services_to_run(compose_config: dict) -> tuple[list, list]:
    """Every service that builds here or whose image is present after the stand-ins ran; and the rest."""
    run, left_out = [], []
    for name, service in compose_config["services"].items():
        image_present = subprocess.run(["docker", "image", "inspect", service.get("image", "")],
                                       capture_output=True).returncode == 0
        (run if "build" in service or image_present else left_out).append(name)
    return run, left_out


@pytest.fixture(scope="module")
def images():
    """Every image the stack needs: pulled, or a stand-in built where the public one cannot be pulled."""
    _require_docker()
    standins = subprocess.run(["bash", str(STANDINS)], capture_output=True, text=True, timeout=1200)
    assert standins.returncode == 0, f"stand-in images:\n{standins.stdout}\n{standins.stderr}"
    print(standins.stdout)


@contextmanager
def running(stack: Stack):
    """`docker compose up -d --build` of every service with an image here; `down -v` leaves nothing behind."""
    config = json.loads(stack.compose("config", "--format", "json").stdout)
    run, left_out = _services_to_run(config)
    assert set(left_out) <= MAY_BE_UNAVAILABLE, f"no image for {left_out}: Docker/standins/build.sh must cover them"
    print(f"{stack.project}: services started {run}; left out (no image here) {left_out}")
    stack.publish_on_loopback({name: config["services"][name] for name in run})
    try:
        started = time.monotonic()
        stack.compose("up", "-d", "--build", *run, timeout=1200)
        stack.wait_healthy("api", HEALTHY_WITHIN_S)
        stack.wait_healthy(PUBLIC, HEALTHY_WITHIN_S)
        print(f"api and {PUBLIC} healthy {time.monotonic() - started:.1f}s after `up` returned")
        yield stack
    finally:
        volumes = stack.mounted_volumes()
        stack.compose("down", "-v", "--remove-orphans", check=False)
    leftovers = stack.leftovers(volumes)
    assert not leftovers, f"`docker compose down -v` left {leftovers}"


@pytest.fixture(scope="module")
def stack(images, tmp_path_factory):
    with running(Stack(tmp_path_factory.mktemp("compose"))) as started:
        yield started


@pytest.fixture(scope="module")
def scale_stack(images, tmp_path_factory):
    """The scale profile as docs/production.md runs it: Docker/scale.env and a PostgreSQL password."""
    password = secrets.token_hex(12)
    with running(Stack(tmp_path_factory.mktemp("scale"), name="scale", env_file=SCALE_ENV,
                       env={"POSTGRES_PASSWORD": password})) as started:
        yield started


def _forecast(stack, horizon=2, last_row=-1):
    """A forecast from 300 rows of the shipped MSFT history ending at `last_row` (distinct ends register anew)."""
    csv = (ROOT / "downloadData" / "data" / "MSFT_data.csv").read_text().splitlines()
    end = len(csv) + last_row + 1
    body = "\n".join([csv[0], *csv[end - 300:end]]).encode()
    answer = requests.post(f"{stack.url(PUBLIC)}/predict?ticker=MSFT&horizon={horizon}", data=body,
                           headers={"Content-Type": "text/csv"}, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _registered_request_ids(stack):
    report = requests.get(f"{stack.url(PUBLIC)}/monitoring/performance?status=all&limit=50", timeout=10).json()
    return {row["request_id"] for row in report["recent"]["forecasts"]}


def test_a_forecast_comes_back_through_the_published_port(stack):
    answer = _forecast(stack, horizon=3)
    assert len(answer["predictions"]) == 3 and answer["registered"] is True
    assert requests.get(f"{stack.url(PUBLIC)}/ready", timeout=5).status_code == 200


def test_the_api_process_runs_as_the_unprivileged_user(stack):
    status = stack.compose("exec", "-T", "api", "cat", "/proc/1/status").stdout
    uids = next(line.split()[1:] for line in status.splitlines() if line.startswith("Uid:"))
    assert set(uids) == {API_UID}, status


def test_the_validator_loop_validates_a_due_forecast(stack):
    # A forecast for the last weekday before today, and that day's realised close, uploaded through the API.
    target = dt.date.today() - dt.timedelta(days=1)
    while target.weekday() >= 5:
        target -= dt.timedelta(days=1)
    made_at = target - dt.timedelta(days=3 if target.weekday() == 0 else 1)
    registered = requests.post(f"{stack.url(PUBLIC)}/monitoring/register", timeout=10, json={
        "ticker": "VALID", "made_at": made_at.isoformat(), "target_date": target.isoformat(),
        "prediction_value": 100.0, "last_close": 99.0})
    assert registered.status_code == 201, registered.text
    actuals = f"Date,Close\n{made_at.isoformat()},99.0\n{target.isoformat()},101.0\n"
    stored = requests.post(f"{stack.url(PUBLIC)}/monitoring/actuals?ticker=VALID", data=actuals,
                           headers={"Content-Type": "text/csv"}, timeout=10)
    assert stored.status_code == 200, stored.text
    deadline, report = time.monotonic() + 60, {}
    while time.monotonic() < deadline:
        report = requests.get(f"{stack.url(PUBLIC)}/monitoring/performance?ticker=VALID", timeout=10).json()
        if report["validated"] == 1:
            break
        time.sleep(1)
    logs = stack.compose("logs", "validator").stdout
    assert report.get("validated") == 1, f"the validator did not validate the forecast:\n{logs[-2000:]}"
    assert report["metrics"]["mae"] == pytest.approx(1.0)
    assert "validated 1 of 1 due forecasts" in logs, logs[-2000:]


def test_prometheus_scrapes_the_api_and_loads_every_rule_file(stack):
    prometheus = stack.url("prometheus")

    def api_target_up():
        targets = requests.get(f"{prometheus}/api/v1/targets", timeout=5).json()["data"]["activeTargets"]
        return [t for t in targets if t["labels"]["job"] == "api" and t["health"] == "up"]

    wait_for(api_target_up, 60, "the api target to be up", interval=1)
    expected = {}
    for path in sorted(RULES_DIR.glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            expected[(path.name, group["name"])] = len(group["rules"])
    groups = requests.get(f"{prometheus}/api/v1/rules", timeout=5).json()["data"]["groups"]
    loaded = {(Path(g["file"]).name, g["name"]): len(g["rules"]) for g in groups}
    assert loaded == expected

    def every_rule_evaluated_cleanly():
        groups = requests.get(f"{prometheus}/api/v1/rules", timeout=5).json()["data"]["groups"]
        rules = [rule for group in groups for rule in group["rules"]]
        return all(rule["health"] == "ok" for rule in rules) and rules

    wait_for(every_rule_evaluated_cleanly, 60, "every rule to evaluate with health ok", interval=1)
    up = requests.get(f"{prometheus}/api/v1/query", params={"query": 'up{job="api"}'}, timeout=5).json()
    assert [float(r["value"][1]) for r in up["data"]["result"]] == [1.0]


def test_stop_then_up_keeps_the_registry(stack):
    before = _forecast(stack, horizon=1, last_row=-100)
    assert before["registered"] is True
    stack.compose("stop")
    stack.compose("up", "-d", *stack.services)
    stack.wait_healthy("api", HEALTHY_WITHIN_S)
    stack.wait_healthy(PUBLIC, HEALTHY_WITHIN_S)  # nginx starts once the API is healthy
    assert before["request_id"] in _registered_request_ids(stack)


def test_only_the_front_is_published_and_it_hides_metrics(stack):
    api = json.loads(subprocess.run(["docker", "inspect", stack.container("api")], capture_output=True,
                                    text=True).stdout)[0]
    assert not any(api["NetworkSettings"]["Ports"].values()), "the API must not be published on the host"
    hidden = requests.get(f"{stack.url(PUBLIC)}/metrics", timeout=5)
    assert hidden.status_code == 404 and hidden.headers["Content-Type"].startswith("application/json")
    assert requests.get(f"{stack.url(PUBLIC)}/health", timeout=5).json() == {"status": "ok"}


def test_the_front_answers_an_oversized_upload_and_a_burst_with_json(stack):
    host, port = stack.url(PUBLIC).split("//")[1].split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    connection.request("POST", "/predict", body=b"x" * (30 * 1024 * 1024), headers={"Content-Type": "text/csv"})
    response = connection.getresponse()  # a client that writes its whole body before reading
    too_large = json.loads(response.read())
    connection.close()
    assert response.status == 413 and too_large["error"] == "payload_too_large", too_large

    def empty_post(_):
        return requests.post(f"{stack.url(PUBLIC)}/predict", data=b"", headers={"Content-Type": "text/csv"},
                             timeout=30)

    time.sleep(6)  # the client's allowance, used by the other tests, refills
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(empty_post, range(150)))
    refused = [a for a in answers if a.status_code == 429]
    assert refused and {a.status_code for a in answers} == {400, 429}
    assert all(a.json()["error"] == "too_many_requests" and a.headers["Retry-After"] == "1" for a in refused)
    time.sleep(2)


def test_one_request_id_in_the_answer_and_both_logs(stack):
    request_id = f"compose-check-{os.getpid()}"
    answer = requests.get(f"{stack.url(PUBLIC)}/ready", headers={"X-Request-ID": request_id}, timeout=10)
    assert answer.headers["X-Request-ID"] == request_id

    def logged_by_both():
        logs = {service: stack.compose("logs", service).stdout for service in ("nginx", "api")}
        return all(f"request_id={request_id}" in text for text in logs.values())

    wait_for(logged_by_both, 20, f"request_id={request_id} in both the nginx and the api log", interval=1)


def test_alertmanager_is_healthy_and_receives_prometheus_alerts(stack):
    assert requests.get(f"{stack.url('alertmanager')}/-/healthy", timeout=5).status_code == 200

    def active_alertmanagers():
        answer = requests.get(f"{stack.url('prometheus')}/api/v1/alertmanagers", timeout=5).json()
        return answer["data"]["activeAlertmanagers"]

    assert wait_for(active_alertmanagers, 60, "Prometheus to find the Alertmanager", interval=1)


def test_the_scale_profile_spreads_forecasts_over_replicas_on_one_postgres_registry(scale_stack):
    assert len(scale_stack.containers("api")) == 2 and scale_stack.health("postgres") == ["healthy"]

    def two_api_targets_up():
        targets = requests.get(f"{scale_stack.url('prometheus')}/api/v1/targets", timeout=5).json()
        return len([t for t in targets["data"]["activeTargets"]
                    if t["labels"]["job"] == "api" and t["health"] == "up"]) == 2

    wait_for(two_api_targets_up, 90, "Prometheus to find both API replicas by DNS", interval=1)
    answers = [_forecast(scale_stack, horizon=1, last_row=-1 - i) for i in range(10)]
    assert all(answer["registered"] for answer in answers)
    upstreams = set(re.findall(r"upstream=(\S+)", scale_stack.compose("logs", "nginx").stdout))
    assert len({u for u in upstreams if u.endswith(":5000")}) == 2, upstreams
    report = requests.get(f"{scale_stack.url(PUBLIC)}/monitoring/performance?status=pending&limit=50",
                          timeout=10).json()
    stored = [row["request_id"] for row in report["recent"]["forecasts"]]
    assert sorted(stored) == sorted(answer["request_id"] for answer in answers)  # each stored once, in one place
