"""The hottest read routes without FastAPI's per-request dependency solving.

FastAPI resolves each declared query parameter and dependency on every request with
per-parameter type introspection; for nearby discovery (a dozen parameters) that framework work
cost more CPU than the route's own SQL round trip. Such a route is declared as a `DirectRoute`
whose endpoint takes only the `Request`:

- `validate_query(Model, request)` validates the whole query string in one pydantic call, with
  the lax rules FastAPI applies ("1"/"true" for booleans, numbers from text, the last of
  repeated keys, unknown keys ignored), and raises the same `RequestValidationError` (locations
  start with "query"), so a client sees the same 422 problem;
- `query_parameters(Model)` documents the fields as the route's OpenAPI query parameters;
- the response model is declared on the route as usual, for the OpenAPI document.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

M = TypeVar("M", bound=BaseModel)


def validate_query(model: type[M], request: Request) -> M:
    try:
        return model.model_validate(dict(request.query_params))
    except ValidationError as exc:
        raise RequestValidationError(
            [{**error, "loc": ("query", *error["loc"])} for error in exc.errors()]
        ) from None


def query_parameters(model: type[BaseModel]) -> dict[str, Any]:
    """`openapi_extra` for a route whose query string is `model`: one parameter per field."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    required = set(schema.get("required", ()))
    parameters = []
    for name, field_schema in schema["properties"].items():
        field_schema = dict(field_schema)
        field_schema.pop("title", None)
        description = field_schema.pop("description", None)
        parameter: dict[str, Any] = {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": field_schema,
        }
        if description:
            parameter["description"] = description
        parameters.append(parameter)
    return {"parameters": parameters}


class DirectRoute(APIRoute):
    """Calls `serve(request)` (the endpoint unless `serve` is given, or a subclass says
    otherwise, see core.lean.LeanRoute) and sends the `Response` it returns: no dependency
    solving, no response-model serialisation. Errors it raises reach the app's exception
    handlers like any route's. Routing, methods and the OpenAPI description stay FastAPI's:
    with `serve`, the endpoint is a stand-in that is never called, whose signature (path and
    query parameters, dependencies such as the optional bearer scheme) FastAPI describes."""

    def __init__(
        self,
        path: str,
        endpoint: Callable[..., Any],
        *,
        serve: Callable[[Request], Awaitable[Response]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(path, endpoint, **kwargs)
        self.serve: Callable[[Request], Awaitable[Response]] = serve or endpoint

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in (self.methods or ()):
            await super().handle(scope, receive, send)  # FastAPI's 405
            return
        response = await self.serve(Request(scope, receive, send))
        await response(scope, receive, send)
