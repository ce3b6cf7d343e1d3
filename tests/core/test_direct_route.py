"""core.query: a DirectRoute's query string is validated like FastAPI's parameters would be,
its errors are the same problems, and the OpenAPI document still describes it."""

from __future__ import annotations

from typing import Literal

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from httpx import ASGITransport, AsyncClient
from pydantic import BaseModel, Field

from core.errors import install_error_handlers
from core.query import DirectRoute, query_parameters, validate_query
from tests.helpers import ApiClient, assert_problem


class Params(BaseModel):
    at: float = Field(ge=-90, le=90, allow_inf_nan=False)
    flag: bool = False
    size: int = Field(20, ge=1, le=100, description="Page size")
    sort: Literal["a", "b"] = "a"
    q: str | None = Field(None, max_length=4)


async def echo(request: Request) -> Response:
    return JSONResponse(validate_query(Params, request).model_dump())


@pytest.fixture
async def direct_client() -> AsyncClient:
    app = FastAPI()
    install_error_handlers(app)
    app.router.add_api_route(
        "/echo",
        echo,
        methods=["GET"],
        route_class_override=DirectRoute,
        openapi_extra=query_parameters(Params),
    )
    return AsyncClient(transport=ASGITransport(app), base_url="http://test")


async def test_values_are_read_with_fastapis_lax_rules(direct_client: AsyncClient) -> None:
    r = await direct_client.get("/echo?at=31.5&flag=1&size=5&size=7&unknown=x")
    # "1" is true, numbers come from text, the last of repeated keys wins, unknown keys pass
    assert r.json() == {"at": 31.5, "flag": True, "size": 7, "sort": "a", "q": None}
    assert (await direct_client.get("/echo?at=0&flag=off")).json()["flag"] is False


@pytest.mark.parametrize(
    ("query", "loc"),
    [("", ["query", "at"]), ("at=91", ["query", "at"]), ("at=nan", ["query", "at"]),
     ("at=1&size=0", ["query", "size"]), ("at=1&sort=c", ["query", "sort"]),
     ("at=1&q=toolong", ["query", "q"]), ("at=1&flag=maybe", ["query", "flag"])],
)  # fmt: skip
async def test_invalid_values_are_validation_problems(
    direct_client: AsyncClient, query: str, loc: list[str]
) -> None:
    r = await direct_client.get(f"/echo?{query}")
    assert_problem(r, 422, "validation_error")
    assert r.json()["errors"][0]["loc"] == loc


async def test_other_methods_are_405(direct_client: AsyncClient) -> None:
    assert (await direct_client.post("/echo?at=1")).status_code == 405


async def test_openapi_describes_the_query_string(direct_client: AsyncClient) -> None:
    spec = (await direct_client.get("/openapi.json")).json()
    parameters = {p["name"]: p for p in spec["paths"]["/echo"]["get"]["parameters"]}
    assert set(parameters) == {"at", "flag", "size", "sort", "q"}
    assert parameters["at"]["required"] is True and parameters["at"]["in"] == "query"
    assert parameters["size"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 100,
                                            "default": 20}  # fmt: skip
    assert parameters["size"]["description"] == "Page size"
    assert parameters["sort"]["schema"]["enum"] == ["a", "b"]


async def test_nearby_is_documented_with_its_parameters_and_page(client: ApiClient) -> None:
    operation = (await client.get("/openapi.json")).json()["paths"]["/v1/shops/nearby"]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert names == {"lat", "lng", "crs", "radius_m", "category", "q", "open_now", "has_offers",
                     "sort", "limit", "cursor"}  # fmt: skip
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/NearbyPage"}
    assert (await client.post("/v1/shops/nearby?lat=1&lng=1")).status_code == 405
