"""The operations of app/openapi.json by path and method, with aliases resolved."""
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def operations(spec: dict) -> dict[str, dict[str, dict]]:
    """{path: {method: operation}}; a path item that is a "$ref" to another path (an alias) gets that one's."""
    out = {}
    for path, item in spec["paths"].items():
        ref = item.get("$ref")
        if ref is not None:
            assert ref.startswith("#/paths/"), f"{path}: only aliases of another path are expected, got {ref}"
            item = spec["paths"][ref.removeprefix("#/paths/").replace("~1", "/").replace("~0", "~")]
        out[path] = {method: op for method, op in item.items() if method in HTTP_METHODS}
    return out
