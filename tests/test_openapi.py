"""/openapi.json documents exactly the routes the app serves."""
from tests.spec_operations import operations


def _served_routes(app):
    routes = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = rule.rule.replace("<", "{").replace(">", "}")
        routes.setdefault(path, set()).update(m.lower() for m in rule.methods - {"HEAD", "OPTIONS"})
    return routes


def test_spec_is_openapi_3_and_lists_every_route_and_method(app, client):
    spec = client.get("/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    documented = {path: set(ops) for path, ops in operations(spec).items()}
    assert documented == _served_routes(app)


def test_every_operation_documents_its_responses(client):
    spec = client.get("/openapi.json").get_json()
    for path, ops in operations(spec).items():
        for method, op in ops.items():
            assert op.get("summary"), f"{method.upper()} {path} has no summary"
            assert "200" in op["responses"] or "202" in op["responses"], f"{method.upper()} {path}"
