"""The API's description for people, when an admin serves it (`polyforge review serve --api-docs`): one page drawn
on the server from the OpenAPI schema, with the app's own stylesheet and no script, so that nothing is loaded from
another site onto the logged-in origin (FastAPI's /docs and /redoc pull their scripts from a CDN)."""

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse

from polyforge.review.pages import page

METHODS = ("get", "post", "put", "patch", "delete")


def type_of(schema: dict) -> str:
    """A property's type in a few words: `integer`, `string | null`, `ReviewIn`, `array of integer`."""
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if "anyOf" in schema:
        return " | ".join(type_of(option) for option in schema["anyOf"])
    if "enum" in schema or "const" in schema:
        return " | ".join(map(repr, schema.get("enum", [schema.get("const")])))
    if schema.get("type") == "array":
        return f"array of {type_of(schema.get('items', {}))}"
    if schema.get("type") == "object" and "additionalProperties" in schema:
        return f"object of {type_of(schema['additionalProperties'])}"
    return schema.get("type", "any")


def operations(schema: dict) -> list[dict]:
    """Every operation as the page lists it: method, path, what it does, parameters and body."""
    listed = []
    for path, methods in schema.get("paths", {}).items():
        for method in METHODS:
            if method not in methods:
                continue
            operation = methods[method]
            content = operation.get("requestBody", {}).get("content", {})
            body = [f"{media}: {type_of(value.get('schema', {}))}" for media, value in content.items()]
            listed.append({
                "method": method.upper(), "path": path, "summary": operation.get("summary", ""),
                "description": operation.get("description", ""), "body": body,
                "parameters": [(p["name"], p["in"], type_of(p.get("schema", {})), p.get("required", False))
                               for p in operation.get("parameters", [])],
            })
    return listed


def add_routes(app: FastAPI) -> None:
    @app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    def api_docs(request: Request):
        schema = app.openapi()
        models = {name: [(field, type_of(spec), spec.get("description", ""), field in model.get("required", []))
                         for field, spec in model.get("properties", {}).items()]
                  for name, model in schema.get("components", {}).get("schemas", {}).items()}
        return page(request, "api_docs.html", {"info": schema["info"], "operations": operations(schema),
                                               "models": models, "filters": ""})
