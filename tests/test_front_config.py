"""The front's configuration agrees with itself across files (no engine or server needed): compose, nginx's
template, Prometheus and Alertmanager name the same services, ports and limits as the app."""
import re

import pytest
import yaml

from app.config import settings_from_env
from tests.nginx import TEMPLATE, compose_defaults
from tests.server import ROOT

COMPOSE = yaml.safe_load((ROOT / "Docker" / "docker-compose.yml").read_text())
PROMETHEUS = yaml.safe_load((ROOT / "prometheus" / "prometheus.yml").read_text())
SERVICES = COMPOSE["services"]


def test_nginx_and_the_api_share_one_upload_limit_with_the_apps_default():
    assert SERVICES["nginx"]["environment"]["MAX_UPLOAD_MB"] == SERVICES["api"]["environment"]["MAX_UPLOAD_MB"]
    assert float(compose_defaults()["MAX_UPLOAD_MB"]) == settings_from_env({})["MAX_UPLOAD_MB"]
    assert "client_max_body_size ${MAX_UPLOAD_MB}m;" in TEMPLATE.read_text()


def test_nginx_is_the_only_public_way_to_the_api():
    assert "ports" not in SERVICES["api"] and SERVICES["api"]["expose"] == ["5000"]
    host, port = SERVICES["nginx"]["environment"]["NGINX_API_UPSTREAM"].split(":")
    assert (host, port) == ("api", "5000")
    (published,) = SERVICES["nginx"]["ports"]
    assert published.split(":")[-1] == SERVICES["nginx"]["environment"]["NGINX_PORT"]
    assert re.search(r"location \^~ /metrics \{[^}]*return 404", TEMPLATE.read_text())


def test_prometheus_discovers_api_replicas_and_alerts_the_alertmanager_service():
    (api_job,) = [job for job in PROMETHEUS["scrape_configs"] if job["job_name"] == "api"]
    (discovery,) = api_job["dns_sd_configs"]
    assert discovery["names"] == ["api"] and discovery["port"] == int(SERVICES["api"]["expose"][0])
    (target,) = PROMETHEUS["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    service, port = target.split(":")
    assert service in SERVICES and f"{port}:{port}" in SERVICES[service]["ports"][0]


@pytest.mark.parametrize("name", ["alert_webhook_url", "smtp_password"])
def test_alert_secrets_are_files_named_by_the_environment(name):
    source = COMPOSE["secrets"][name]["file"]
    assert re.fullmatch(r"\$\{ALERT_\w+_FILE:-/dev/null\}", source), source
    assert name in SERVICES["alertmanager"]["secrets"]
    template = (ROOT / "prometheus" / "alertmanager" / "render-config.sh").read_text()
    assert f"/run/secrets/{name}" in template


def test_scale_profile_runs_postgres_and_points_every_replica_at_it():
    scale = dict(line.split("=", 1) for line in (ROOT / "Docker" / "scale.env").read_text().splitlines()
                 if line and not line.startswith("#"))
    assert scale["COMPOSE_PROFILES"] == "scale" and int(scale["API_REPLICAS"]) >= 2
    assert SERVICES["postgres"]["profiles"] == ["scale"]
    assert scale["DATABASE_URL"].startswith("postgresql+psycopg://") and "@postgres:5432/" in scale["DATABASE_URL"]
    assert "${POSTGRES_PASSWORD}" in scale["DATABASE_URL"]
    assert SERVICES["api"]["environment"]["DATABASE_URL"] == "${DATABASE_URL:-}"
    assert SERVICES["api"]["deploy"]["replicas"] == "${API_REPLICAS:-1}"
