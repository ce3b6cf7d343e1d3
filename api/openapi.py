"""The OpenAPI document tells the truth about errors: every 4xx/5xx is problem+json.

FastAPI documents only its own 422 shape (`HTTPValidationError`, `application/json`), which is
not what Corner sends. Each operation here gets `422`, `4XX` and `5XX` responses with the
`Problem` schema, so clients (and the contract fuzzer) can rely on them.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details; `code` is stable, `title`/`detail` are localised.",
    "type": "object",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string", "pattern": "^[a-z0-9_]+$"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["loc", "msg"],
                "properties": {
                    "loc": {"type": "array", "items": {"type": ["string", "integer"]}},
                    "msg": {"type": "string"},
                },
            },
        },
    },
    "additionalProperties": True,
}

_PROBLEM_CONTENT = {
    "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
}
_HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def _problem_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": _PROBLEM_CONTENT}


def with_problem_responses(spec: dict[str, Any]) -> dict[str, Any]:
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    for item in spec.get("paths", {}).values():
        for method, operation in item.items():
            if method not in _HTTP_METHODS:
                continue
            responses = operation.setdefault("responses", {})
            for status, response in list(responses.items()):
                if status.startswith(("4", "5")):
                    response["content"] = _PROBLEM_CONTENT
            responses.setdefault("422", _problem_response("Validation error"))
            responses.setdefault("4XX", _problem_response("Client error"))
            responses.setdefault("5XX", _problem_response("Service unavailable or server error"))
    return spec


_BINARY_TYPES = ("image/png", "image/jpeg", "image/webp", "application/pdf", "text/csv")
_VERBS = {"get": "get", "post": "create", "put": "put", "patch": "update", "delete": "delete"}


def operation_id(method: str, path: str, name: str) -> str:
    """`shops_nearby`, `counter_redeem`, `me_coupons`: the path's first resource, then the
    handler's name without the words that repeat it (for a route with no other words, the
    verb of its method). Readable in generated clients, and unique (checked when built)."""
    segments = [s for s in path.split("/") if s and s != "v1"]
    resource = segments[0].replace("-", "_").replace(".", "_") if segments else "root"
    repeats = {resource, resource.rstrip("s"), *(["my"] if resource == "me" else [])}
    words = [w for w in name.split("_") if w not in repeats]
    return f"{resource}_{'_'.join(words) or _VERBS.get(method, method)}"


def route_operation_id(route: APIRoute) -> str:
    """The app's `generate_unique_id_function` (a route may still set its own id)."""
    method = sorted(route.methods or {"get"})[0].lower()
    return operation_id(method, route.path_format, route.name)


def check_unique_operation_ids(spec: dict[str, Any]) -> dict[str, Any]:
    seen: dict[str, str] = {}
    for path, item in spec.get("paths", {}).items():
        for method, operation in item.items():
            if method not in _HTTP_METHODS:
                continue
            key = operation.get("operationId", "")
            if key in seen:
                raise RuntimeError(f"operation id {key} of {method} {path} repeats {seen[key]}")
            seen[key] = f"{method} {path}"
    return spec


def with_binary_bodies(spec: dict[str, Any]) -> dict[str, Any]:
    """Images, PDFs and CSVs declare `{type: string, format: binary}` (FastAPI leaves them
    without a schema, and generators then drop the success response)."""
    for item in spec.get("paths", {}).values():
        for method, operation in item.items():
            if method not in _HTTP_METHODS:
                continue
            for status, response in operation.get("responses", {}).items():
                if not status.startswith("2"):
                    continue
                for media, body in response.get("content", {}).items():
                    if media in _BINARY_TYPES:
                        body["schema"] = {"type": "string", "format": "binary"}
    return spec


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                description=app.description,
                routes=app.routes,
                servers=app.servers,
            )
            spec = check_unique_operation_ids(spec)
            app.openapi_schema = with_binary_bodies(with_problem_responses(spec))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
