"""Issue 17, finding 6: request bodies are limited per route before they are read.

Before: a 200 MB multipart upload with no token was read and spooled to disk before the 401,
and a 60 MB JSON body cost 100 MB of memory. Now a declared length over the route's limit is
answered 413 problem+json without reading the body, and a body without a declared length is
refused as soon as it passes the limit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from api.limits import DEFAULT_LIMIT, MB, body_limit
from tests.helpers import ApiClient, assert_problem, create_shop


class CountingBody:
    """A request body of `total` bytes that counts how much of it the server pulled."""

    def __init__(self, total: int, chunk: int = MB) -> None:
        self.total, self.chunk, self.pulled = total, chunk, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while self.pulled < self.total:
            self.pulled += self.chunk
            yield b"x" * self.chunk


async def test_a_200_mb_upload_without_token_is_refused_unread(client: ApiClient) -> None:
    owner = await client.register()
    merchant = await client.merchant(owner)
    shop = await create_shop(client, owner, merchant["id"])
    body = CountingBody(200 * MB)
    r = await client.post(
        f"/v1/shops/{shop['id']}/photos",
        content=body,
        headers={
            "Content-Type": "multipart/form-data; boundary=x",
            "Content-Length": str(body.total),
        },
    )
    problem = assert_problem(r, 413, "payload_too_large")
    assert problem["max_bytes"] == body_limit("POST", f"/v1/shops/{shop['id']}/photos")
    assert body.pulled <= 2 * MB, f"{body.pulled} bytes were read"
    assert r.headers["x-request-id"]


async def test_json_bodies_are_limited_to_a_few_hundred_kb(client: ApiClient) -> None:
    big = {"phone": "13912345678", "password": "x" * 10, "display_name": "y" * (2 * MB)}
    assert_problem(await client.post("/v1/auth/register", json=big), 413, "payload_too_large")
    # chunked, no declared length: read up to the limit, then refused
    body = CountingBody(60 * MB, chunk=64 * 1024)
    r = await client.post(
        "/v1/auth/register", content=body, headers={"Content-Type": "application/json"}
    )
    assert_problem(r, 413, "payload_too_large")
    assert body.pulled <= DEFAULT_LIMIT + 64 * 1024
    # an ordinary body still goes through (and a chunked one below the limit too)
    ok = await client.post(
        "/v1/auth/register",
        json={"phone": "13912345679", "password": "s3cret-pass", "display_name": "正常"},
    )
    assert ok.status_code == 201, ok.text

    async def small() -> AsyncIterator[bytes]:
        yield b'{"phone": "13912345670", "password": "s3cret-pass", '
        yield b'"display_name": "chunked"}'

    r = await client.post(
        "/v1/auth/register", content=small(), headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 201, r.text


def test_upload_routes_have_room_for_their_files() -> None:
    assert body_limit("POST", "/v1/shops/abc/photos") > 10 * MB
    assert body_limit("PUT", "/v1/programs/abc/design") > 5 * MB
    assert body_limit("POST", "/v1/shops/abc/reviews") == DEFAULT_LIMIT
    assert body_limit("GET", "/v1/shops/abc/photos") == DEFAULT_LIMIT
