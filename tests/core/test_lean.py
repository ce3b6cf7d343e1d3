"""core.lean: a lean route validates and documents its body like FastAPI would, and its
transaction commits before the response or writes nothing at all."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import FastAPI, Request
from httpx import ASGITransport, AsyncClient
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import text
from starlette.responses import Response

from core.errors import Conflict, install_error_handlers
from core.idempotency import IdempotencyKey
from core.lean import (
    Statement,
    json_response,
    lean_post,
    read_path,
    read_path_params,
    read_request,
    transaction,
    write_pool,
)
from core.settings import Settings


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=2, max_length=5)
    amount: int = Field(ge=0)
    note: str | None = None


async def lean_echo(request: Request) -> Response:
    data, key = await read_request(request, Body, idempotent=True)
    return Response(json.dumps({**data.model_dump(), "key": key}))


KEY = Statement(
    text("INSERT INTO idempotency_keys (scope, key, request_hash) VALUES ('lean', :key, '')")
)


async def lean_write(request: Request) -> Response:
    data, _ = await read_request(request, Body)
    async with transaction(request) as connection:
        await KEY.run(connection, {"key": data.code})
        if data.amount > 0:  # refused after the write: the write must not survive
            raise Conflict("refused after the write")
    return Response(b"{}", status_code=201)


class Echo(BaseModel):
    item: uuid.UUID
    count: int


async def lean_item(request: Request) -> Response:
    if request.headers.get("x-one"):  # the one-parameter form
        return json_response(Echo(item=read_path(request, "item", uuid.UUID), count=0), 201)
    values = read_path_params(request, {"item": uuid.UUID, "count": int})
    return json_response(Echo(**values), 201)


@pytest.fixture
async def pair(test_settings: Settings, app: Any) -> AsyncIterator[AsyncClient]:
    """The same body and header taken by a FastAPI route and by a lean route."""
    corner_app = app
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/fastapi")
    async def fastapi_echo(data: Body, idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
        return {**data.model_dump(), "key": idempotency_key}

    @app.post("/fastapi/{item}/{count}", response_model=Echo, status_code=201)
    async def fastapi_item(item: uuid.UUID, count: int) -> Echo:
        return Echo(item=item, count=count)

    lean_post(app.router, "/lean", lean_echo, body=Body, idempotent=True)
    lean_post(app.router, "/write", lean_write, body=Body, status_code=201)
    lean_post(app.router, "/lean/{item}/{count}", lean_item,
              path_params={"item": uuid.UUID, "count": int},
              response_model=Echo, status_code=201)  # fmt: skip
    app.state.sessionmaker = corner_app.state.sessionmaker
    app.state.writes = write_pool(test_settings)
    await app.state.writes.open()
    try:
        yield AsyncClient(transport=ASGITransport(app), base_url="http://test")
    finally:
        await app.state.writes.close()


JSON = {"Content-Type": "application/json"}
CASES: list[dict[str, Any]] = [
    {"content": b""},
    {"content": b"", "headers": {**JSON, "Idempotency-Key": ""}},
    {"content": b'{"code": "ab", ', "headers": JSON},
    {"content": b'{"code": "ab", ', "headers": {**JSON, "Idempotency-Key": ""}},
    {"content": b'{"code": "abc", "amount": 1}'},  # no content type: not read as JSON
    {"content": b'{"code": "abc", "amount": NaN}', "headers": JSON},
    {"content": b"[1, 2]", "headers": JSON},
    {"json": {"code": "a", "amount": -1}},
    {"json": {"code": "abc", "amount": "12", "extra": 1}},
    {"json": {"code": "abc", "amount": 1.5}},
    {"json": {"amount": 3}, "headers": {"Idempotency-Key": "k" * 256}},
    {"json": {"code": "abc", "amount": 1}, "headers": {"Idempotency-Key": ""}},
    {"content": b'{"code": "abc", "amount": 1}', "headers": {"Content-Type": "text/plain"}},
]


@pytest.mark.parametrize("case", CASES)
async def test_invalid_requests_are_the_same_problems_as_fastapis(
    pair: AsyncClient, case: dict[str, Any]
) -> None:
    fastapi, lean = await pair.post("/fastapi", **case), await pair.post("/lean", **case)
    assert lean.status_code == fastapi.status_code == 422
    assert lean.headers["content-type"] == fastapi.headers["content-type"]
    assert lean.json() == fastapi.json()


@pytest.mark.parametrize(
    "case",
    [{"json": {"code": "abc", "amount": "7"}, "headers": {"Idempotency-Key": "k1"}},
     {"content": b'{"code": "abc", "amount": 7, "note": "x"}', "headers": JSON},
     # past 64-bit integers: read as FastAPI reads it (orjson would make it a float)
     {"content": b'{"code": "abc", "amount": 99999999999999999999999}', "headers": JSON},

     {"content": b'{"code": "abc", "amount": 7}',
      "headers": {"Content-Type": "application/merge-patch+json"}}],
)  # fmt: skip
async def test_valid_requests_read_the_same(pair: AsyncClient, case: dict[str, Any]) -> None:
    fastapi, lean = await pair.post("/fastapi", **case), await pair.post("/lean", **case)
    assert lean.status_code == fastapi.status_code == 200
    assert lean.json() == fastapi.json()


async def test_openapi_documents_the_body_and_header_as_fastapi_does(pair: AsyncClient) -> None:
    paths = (await pair.get("/openapi.json")).json()["paths"]
    fastapi, lean = paths["/fastapi"]["post"], paths["/lean"]["post"]
    assert lean["requestBody"] == fastapi["requestBody"]
    assert lean["parameters"] == fastapi["parameters"]
    assert lean["responses"]["422"] == fastapi["responses"]["422"]


async def test_other_methods_are_405(pair: AsyncClient) -> None:
    assert (await pair.get("/lean")).status_code == 405


async def test_the_transaction_commits_or_writes_nothing(pair: AsyncClient, app: Any) -> None:
    async def keys() -> list[str]:
        async with app.state.engine.connect() as conn:
            rows = await conn.execute(text("SELECT key FROM idempotency_keys WHERE scope='lean'"))
            return sorted(r[0] for r in rows)

    refused = await pair.post("/write", json={"code": "no", "amount": 1})
    assert refused.status_code == 409 and refused.json()["code"] == "conflict"
    assert await keys() == []
    assert (await pair.post("/write", json={"code": "yes", "amount": 0})).status_code == 201
    assert await keys() == ["yes"]  # committed before the response was sent


@pytest.mark.parametrize(
    "path",
    ["/{}/not-a-uuid/3", "/{}/7c0f4f53-3e0a-4b8e-9a43-5b0e1f2d3c4a/x",
     "/{}/bad/-x", "/{}/7c0f4f53-3e0a-4b8e-9a43-5b0e1f2d3c4a/12"],
)  # fmt: skip
async def test_path_parameters_read_and_refuse_as_fastapi_does(
    pair: AsyncClient, path: str
) -> None:
    fastapi, lean = await pair.post(path.format("fastapi")), await pair.post(path.format("lean"))
    assert lean.status_code == fastapi.status_code
    assert lean.json() == fastapi.json()
    paths = (await pair.get("/openapi.json")).json()["paths"]
    documented = paths["/lean/{item}/{count}"]["post"]
    assert documented["parameters"] == paths["/fastapi/{item}/{count}"]["post"]["parameters"]
    assert documented["responses"] == paths["/fastapi/{item}/{count}"]["post"]["responses"]


async def test_one_path_parameter(pair: AsyncClient) -> None:
    one = {"x-one": "1"}
    refused = await pair.post("/lean/nope/1", headers=one)
    assert refused.status_code == 422
    assert [e["loc"] for e in refused.json()["errors"]] == [["path", "item"]]
    item = "7c0f4f53-3e0a-4b8e-9a43-5b0e1f2d3c4a"
    assert (await pair.post(f"/lean/{item}/1", headers=one)).json() == {"item": item, "count": 0}
