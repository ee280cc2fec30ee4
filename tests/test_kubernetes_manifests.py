"""Docker/kubernetes/: no cluster runs here, so every manifest is validated offline against the Kubernetes API's
JSON schemas (the kubernetes-validate package ships them, strict mode: unknown fields are errors), and the
pieces are cross-checked with each other, the Dockerfile and the app."""
import re

import kubernetes_validate
import pytest
import yaml

from tests.nginx import compose_defaults
from tests.server import ROOT

MANIFESTS = sorted((ROOT / "Docker" / "kubernetes").glob("*.yaml"))
KUBERNETES_VERSION = "1.33.0"  # a current release that managed clusters run


def documents():
    return [(path.name, doc) for path in MANIFESTS for doc in yaml.safe_load_all(path.read_text()) if doc]


def one(kind, name=None):
    (found,) = [doc for _, doc in documents() if doc["kind"] == kind and name in (None, doc["metadata"]["name"])]
    return found


def pod_spec(doc):
    return doc["spec"]["jobTemplate"]["spec"]["template"]["spec"] if doc["kind"] == "CronJob" \
        else doc["spec"]["template"]["spec"]


@pytest.mark.parametrize("name, doc", documents(),
                         ids=[f"{name}:{doc['kind']}/{doc['metadata']['name']}" for name, doc in documents()])
def test_manifest_matches_the_kubernetes_api_schema(name, doc):
    try:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        pytest.fail(f"{name} {doc['kind']}/{doc['metadata']['name']}: {exc.message} at {list(exc.path)}")


def test_the_schema_check_really_rejects_a_wrong_manifest():
    deployment = one("Deployment")
    broken = {**deployment, "spec": {**deployment["spec"], "replicas": "two"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def image_user():
    (user,) = re.findall(r"^USER\s+(\d+):(\d+)", (ROOT / "Docker" / "Dockerfile").read_text(), re.MULTILINE)
    return int(user[0]), int(user[1])


def test_deployment_probes_resources_and_non_root_user():
    deployment = one("Deployment")
    spec = pod_spec(deployment)
    (container,) = spec["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert {"cpu", "memory"} <= set(container["resources"]["requests"]) & set(container["resources"]["limits"])
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert (spec["securityContext"]["runAsUser"], spec["securityContext"]["runAsGroup"]) == image_user()
    assert container["securityContext"]["allowPrivilegeEscalation"] is False


def test_database_url_comes_from_a_secret():
    (container,) = pod_spec(one("Deployment"))["containers"]
    env = {item["name"]: item for item in container["env"]}
    assert "value" not in env["DATABASE_URL"] and env["DATABASE_URL"]["valueFrom"]["secretKeyRef"]["key"]
    assert not [doc for _, doc in documents() if doc["kind"] == "Secret"], "secrets are created, never committed"


def test_writable_paths_are_volumes_under_a_read_only_root():
    (container,) = pod_spec(one("Deployment"))["containers"]
    mounts = {mount["mountPath"] for mount in container["volumeMounts"]}
    env = {item["name"]: item.get("value") for item in container["env"]}
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert {"/tmp", env["PROMETHEUS_MULTIPROC_DIR"]} <= mounts


def test_service_hpa_and_scrape_annotations_point_at_the_api_pods():
    deployment, service, autoscaler = one("Deployment"), one("Service"), one("HorizontalPodAutoscaler")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert autoscaler["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                                     "name": deployment["metadata"]["name"]}
    assert autoscaler["spec"]["minReplicas"] >= 2
    (container,) = pod_spec(deployment)["containers"]
    (port,) = container["ports"]
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true" and annotations["prometheus.io/path"] == "/metrics"
    assert int(annotations["prometheus.io/port"]) == port["containerPort"] == 5000


def test_validator_runs_once_against_the_service():
    validator = one("CronJob")
    assert validator["spec"]["concurrencyPolicy"] == "Forbid"
    (container,) = pod_spec(validator)["containers"]
    service = one("Service")
    assert f"http://{service['metadata']['name']}:{service['spec']['ports'][0]['port']}" in container["command"]


def test_ingress_routes_every_page_and_endpoint_but_metrics(app):
    routes = {rule.rule.split("<")[0].rstrip("/") or "/" for rule in app.url_map.iter_rules()}
    exposed = [(p["path"], p["pathType"]) for _, doc in documents() if doc["kind"] == "Ingress"
               for rule in doc["spec"]["rules"] for p in rule["http"]["paths"]]

    def routed(route):
        return any(route == path or (kind == "Prefix" and route.startswith(path.rstrip("/") + "/"))
                   for path, kind in exposed)

    assert not routed("/metrics")
    assert {route for route in routes if not routed(route)} == {"/metrics"}


def test_limits_match_the_compose_front():
    """The upload limit and the /predict rate are the compose nginx's defaults (docker-compose.yml)."""
    front = compose_defaults()
    rate = int(front["NGINX_PREDICT_RATE"].removesuffix("r/s"))
    predict = one("Ingress", "stock-forecast-predict")["metadata"]["annotations"]
    assert int(predict["nginx.ingress.kubernetes.io/limit-rps"]) == rate
    burst = rate * int(predict["nginx.ingress.kubernetes.io/limit-burst-multiplier"])
    assert burst == int(front["NGINX_PREDICT_BURST"])
    (container,) = pod_spec(one("Deployment"))["containers"]
    assert {item["name"]: item.get("value") for item in container["env"]}["MAX_UPLOAD_MB"] == front["MAX_UPLOAD_MB"]
    for _, doc in documents():
        if doc["kind"] == "Ingress":
            annotations = doc["metadata"]["annotations"]
            assert annotations["nginx.ingress.kubernetes.io/proxy-body-size"] == f"{front['MAX_UPLOAD_MB']}m"
            assert annotations["nginx.ingress.kubernetes.io/proxy-request-buffering"] == "on"
