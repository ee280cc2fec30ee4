"""Static checks of Docker/: lint and cross-check the image and the compose file.

They run without a Docker engine; tests/test_compose_stack.py runs the stack itself.
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path, PurePosixPath

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
DOCKERFILE = REPO / "Docker" / "Dockerfile"
COMPOSE_FILE = REPO / "Docker" / "docker-compose.yml"
PROMETHEUS_CONFIG = REPO / "prometheus" / "prometheus.yml"
GUNICORN_COMMAND = ["gunicorn", "-c", "app/gunicorn_conf.py"]
COMPOSE_UP = "docker compose -f Docker/docker-compose.yml up --build"
EXPECTED_PORTS = {"api": 5000, "prometheus": 9090, "grafana": 3000}
# {container port: host port} each service publishes: nginx is the public front on the API's old host port,
# the API itself publishes nothing.
PUBLISHED = {"api": {}, "nginx": {8080: 5000}, "prometheus": {9090: 9090}, "grafana": {3000: 3000},
             "alertmanager": {9093: 9093}}


def _tool(name):
    """Path of a console script from the test venv (or PATH); skip, or fail under CI=true, when it is absent."""
    path = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if path is None:
        message = f"{name} is not installed (pip install -r requirements-dev.txt)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def dockerfile_instructions():
    """Return the Dockerfile as (INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    instructions, pending = [], ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        keyword, _, args = full.partition(" ")
        instructions.append((keyword.upper(), args.strip()))
    return instructions


def instruction_args(keyword):
    """Arguments of every `keyword` instruction in the Dockerfile, in order."""
    return [args for kw, args in dockerfile_instructions() if kw == keyword]


def runtime_instructions():
    """Instructions of the final build stage (what the shipped image consists of)."""
    instructions = dockerfile_instructions()
    last_from = max(i for i, (kw, _) in enumerate(instructions) if kw == "FROM")
    return instructions[last_from:]


def runtime_env():
    """ENV values the final stage sets (KEY=VALUE form)."""
    env = {}
    for kw, args in runtime_instructions():
        if kw == "ENV":
            for pair in args.split():
                key, _, value = pair.partition("=")
                env[key] = value.strip('"')
    return env


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load(COMPOSE_FILE.read_text())


def published_ports(service):
    """{container_port: host_port} a compose service publishes (short "host:container" syntax)."""
    ports = {}
    for entry in service.get("ports", []):
        host, _, container = str(entry).rpartition(":")
        ports[int(container.split("/")[0])] = int(host)
    return ports


def bind_mounts(service):
    """(host_path, container_path) of every bind mount of a service (relative host paths are bind mounts)."""
    mounts = []
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith((".", "/")):
            mounts.append(((COMPOSE_FILE.parent / source).resolve(), PurePosixPath(target)))
    return mounts


def gunicorn_bind(environ):
    """The `bind` app/gunicorn_conf.py computes under `environ` (evaluated in a clean interpreter)."""
    code = "import runpy; print(runpy.run_path('app/gunicorn_conf.py')['bind'])"
    env = {k: v for k, v in os.environ.items() if k not in {"HOST", "PORT"}} | environ | {"PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=60, check=True)
    return result.stdout.strip().splitlines()[-1]


# --- Dockerfile -----------------------------------------------------------------------------------------------

def test_hadolint_finds_nothing():
    result = subprocess.run([_tool("hadolint"), "--no-color", str(DOCKERFILE)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_image_is_multi_stage_on_python_311_slim():
    froms = instruction_args("FROM")
    args = dict(arg.split("=", 1) for arg in instruction_args("ARG") if "=" in arg)
    images = [f.split()[0].replace("${PYTHON_IMAGE}", args.get("PYTHON_IMAGE", "")) for f in froms]
    assert len(froms) >= 2, "builder and runtime stages expected"
    assert all(image == "python:3.11-slim" for image in images), images


def test_runtime_runs_as_non_root_user():
    users = [args for kw, args in runtime_instructions() if kw == "USER"]
    assert users, "the runtime stage must switch to an unprivileged USER"
    assert users[-1].split(":")[0] not in {"root", "0"}


def test_command_is_the_shared_gunicorn_config():
    (cmd,) = [args for kw, args in runtime_instructions() if kw == "CMD"]
    assert json.loads(cmd) == GUNICORN_COMMAND
    assert not [args for kw, args in runtime_instructions() if kw == "ENTRYPOINT"]


def test_gunicorn_config_and_wsgi_module_exist():
    config = REPO / "app" / "gunicorn_conf.py"
    assert config.is_file()
    assert 'wsgi_app = "app.wsgi:app"' in config.read_text()
    assert (REPO / "app" / "wsgi.py").is_file()


def test_make_run_and_make_up_use_the_same_command():
    makefile = (REPO / "Makefile").read_text()
    assert " ".join(GUNICORN_COMMAND) in makefile
    assert COMPOSE_UP in makefile


def test_server_tests_start_the_same_command():
    started = (REPO / "tests" / "server.py").read_text()
    assert '"-c", "app/gunicorn_conf.py"' in started and 'with_name("gunicorn")' in started


def test_healthcheck_probes_ready_without_curl():
    (healthcheck,) = [args for kw, args in runtime_instructions() if kw == "HEALTHCHECK"]
    assert "/ready" in healthcheck and "urllib.request" in healthcheck
    assert "curl" not in healthcheck


def test_copy_sources_exist_and_are_not_dockerignored():
    allowed = [line[1:].rstrip("/") for line in (REPO / ".dockerignore").read_text().splitlines()
               if line.startswith("!")]
    for args in instruction_args("COPY"):
        if args.startswith("--from"):
            continue
        *sources, _dest = args.split()
        for source in sources:
            source = source.rstrip("/")
            assert (REPO / source).exists(), f"COPY source {source} missing from the repository"
            assert any(source == a or source.startswith(a + "/") for a in allowed), \
                f"{source} is excluded by .dockerignore"


def test_image_ships_no_tests_training_or_data():
    copied = " ".join(args for args in instruction_args("COPY") if not args.startswith("--from"))
    for unwanted in ("tests", "modelTraining", "downloadData/data", "requirements-train", "requirements-dev"):
        assert unwanted not in copied


def test_container_binds_the_port_it_exposes():
    env = runtime_env()
    expose = {int(p.split("/")[0]) for args in instruction_args("EXPOSE") for p in args.split()}
    assert gunicorn_bind({"HOST": env["HOST"], "PORT": env["PORT"]}) == f"0.0.0.0:{EXPECTED_PORTS['api']}"
    assert gunicorn_bind({}).endswith(f":{EXPECTED_PORTS['api']}"), "gunicorn's default PORT must match the stack"
    assert expose == {EXPECTED_PORTS["api"]}


# --- docker-compose.yml -----------------------------------------------------------------------------------------

def test_compose_file_matches_the_compose_spec():
    result = subprocess.run([_tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(COMPOSE_FILE)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_stack_has_the_expected_services(compose):
    assert {"api", "validator", "prometheus", "grafana"} <= set(compose["services"])
    for name, service in compose["services"].items():
        assert service.get("restart") in {"unless-stopped", "always", "on-failure"}, name


@pytest.mark.parametrize("service", sorted(PUBLISHED))
def test_published_ports_match_the_services(compose, service):
    assert published_ports(compose["services"][service]) == PUBLISHED[service]


def test_prometheus_and_grafana_listen_on_their_default_ports(compose):
    prometheus_args = " ".join(compose["services"]["prometheus"].get("command", []))
    assert "--web.listen-address" not in prometheus_args or f":{EXPECTED_PORTS['prometheus']}" in prometheus_args
    grafana_env = compose["services"]["grafana"].get("environment", {})
    assert str(grafana_env.get("GF_SERVER_HTTP_PORT", EXPECTED_PORTS["grafana"])) == str(EXPECTED_PORTS["grafana"])


def test_api_service_runs_the_image_command(compose):
    api = compose["services"]["api"]
    assert "command" not in api and "entrypoint" not in api, "the API must start through the image's CMD"
    assert api["build"]["context"] == ".." and api["build"]["dockerfile"] == "Docker/Dockerfile"


def test_every_bind_mount_exists_in_the_repository(compose):
    mounts = [m for service in compose["services"].values() for m in bind_mounts(service)]
    assert mounts
    for host, _target in mounts:
        assert host.is_relative_to(REPO), f"{host} is outside the repository"
        assert host.exists(), f"{host.relative_to(REPO)} is mounted but missing"


def test_named_volumes_are_declared(compose):
    declared = set(compose.get("volumes") or {})
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith((".", "/")):
                assert source in declared, f"{name} uses undeclared volume {source}"


def test_api_keeps_registry_on_a_volume_and_metrics_on_tmpfs(compose):
    api, env = compose["services"]["api"], runtime_env()
    registry_dir = str(PurePosixPath(api["environment"].get("REGISTRY_PATH", env["REGISTRY_PATH"])).parent)
    assert any(v.split(":")[1] == registry_dir and not v.startswith((".", "/")) for v in api["volumes"])
    multiproc_dir = api["environment"].get("PROMETHEUS_MULTIPROC_DIR", env["PROMETHEUS_MULTIPROC_DIR"])
    assert multiproc_dir == env["PROMETHEUS_MULTIPROC_DIR"]
    mounts = dict(entry.partition(":")[::2] for entry in api.get("tmpfs", []))
    assert multiproc_dir in mounts
    # Docker mounts a tmpfs as root:root 755: it must be handed to the image's user, or every worker crashes.
    options = dict(option.partition("=")[::2] for option in mounts[multiproc_dir].split(",") if option)
    image_user = [args for kw, args in runtime_instructions() if kw == "USER"][-1]
    assert options.get("uid") == image_user.split(":")[0], options


def test_validator_runs_the_monitoring_cli_against_the_api(compose):
    validator = compose["services"]["validator"]
    script = " ".join(validator["command"])
    assert "python -m app.monitoring validate" in script
    assert f"--api-url http://api:{EXPECTED_PORTS['api']}" in script
    assert (REPO / "app" / "monitoring" / "__main__.py").is_file() or (REPO / "app" / "monitoring.py").is_file()


def test_grafana_admin_password_and_anonymous_viewing(compose):
    env = compose["services"]["grafana"]["environment"]
    assert env["GF_SECURITY_ADMIN_PASSWORD"] == "${GRAFANA_ADMIN_PASSWORD:-admin}"
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "true" and env["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"
    assert "prometheus" in compose["services"]["grafana"]["depends_on"]


def test_grafana_home_dashboard_is_provisioned(compose):
    env = compose["services"]["grafana"]["environment"]
    home = PurePosixPath(env["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"])
    mounts = dict((target, host) for host, target in bind_mounts(compose["services"]["grafana"]))
    assert (mounts[home.parent] / home.name).is_file()


# --- Prometheus wiring ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def prometheus_config():
    return yaml.safe_load(PROMETHEUS_CONFIG.read_text())


def test_prometheus_scrapes_the_api_service(prometheus_config):
    (job,) = [j for j in prometheus_config["scrape_configs"] if j["job_name"] == "api"]
    (discovery,) = job["dns_sd_configs"]  # one target per replica, as Docker's DNS answers "api"
    assert (discovery["names"], discovery["type"], discovery["port"]) == (["api"], "A", EXPECTED_PORTS["api"])
    assert job.get("metrics_path", "/metrics") == "/metrics"


def test_prometheus_rule_files_resolve_inside_the_mounts(compose, prometheus_config):
    mounts = {target: host for host, target in bind_mounts(compose["services"]["prometheus"])}
    config_dir = PurePosixPath("/etc/prometheus")
    assert mounts[config_dir / "prometheus.yml"] == PROMETHEUS_CONFIG
    assert prometheus_config.get("rule_files"), "prometheus.yml loads no rule files"
    for pattern in prometheus_config["rule_files"]:
        container_path = config_dir / pattern  # relative rule paths resolve against the config file's directory
        (mount,) = [t for t in mounts if container_path.is_relative_to(t) and t != container_path]
        host_pattern = container_path.relative_to(mount)
        assert list(mounts[mount].glob(str(host_pattern))), f"rule_files {pattern} matches nothing in the mount"
