"""core.dispatch: a lean or direct route answered by the lean dispatch behaves exactly as
through FastAPI's whole stack — request id, language, security headers, the body limit's 413,
problem+json for DomainError, the 422 of a validation error, HTTPException's problem, the 500
catch-all, metrics — and what the dispatch does not own (another method, a trailing slash,
the OpenAPI document, an earlier route that matches first) still goes through the stack.

Each case runs the same raw ASGI request twice on the real app: once as uvicorn calls it (the
dispatch) and once through FastAPI's own `__call__` (the whole stack), and compares status,
headers (but the generated request id) and body; a counter on the middleware stack tells
which path served it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from prometheus_client import REGISTRY
from starlette.responses import Response

from core.dispatch import LeanDispatchApp
from core.errors import install_error_handlers
from core.query import DirectRoute
from tests.helpers import ApiClient

REDEEM = "/v1/counter/redeem"
Answer = tuple[int, list[tuple[str, str]], bytes]


class Stack:
    """Counts the requests FastAPI's middleware stack served."""

    def __init__(self, app: Any) -> None:
        self.inner = app.middleware_stack or app.build_middleware_stack()
        self.calls = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.calls += 1
        await self.inner(scope, receive, send)


@pytest.fixture
def stack(app: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    counting = Stack(app)
    monkeypatch.setattr(app, "middleware_stack", counting)
    yield counting


async def call(
    app: Any,
    method: str,
    path: str,
    *,
    body: bytes | list[bytes] = b"",
    headers: dict[str, str] | None = None,
    query: str = "",
    full: bool = False,
) -> Answer:
    """One request as uvicorn would pass it (`full`: through FastAPI's own `__call__`, the
    whole stack); the answer's status, headers and body."""
    chunks = body if isinstance(body, list) else [body]
    raw_headers = [(b"host", b"test")]
    if not isinstance(body, list):
        raw_headers.append((b"content-length", str(len(body)).encode()))
    for name, value in (headers or {}).items():
        raw_headers.append((name.lower().encode(), value.encode()))
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
             "root_path": "", "query_string": query.encode(), "headers": raw_headers,
             "client": ("127.0.0.1", 50000), "server": ("test", 80), "state": {}}  # fmt: skip
    pending = list(chunks)

    async def receive() -> dict[str, Any]:
        if pending:
            chunk = pending.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(pending)}
        return {"type": "http.disconnect"}

    sent: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        sent.append(message)

    if full:
        await FastAPI.__call__(app, scope, receive, send)
    else:
        await app(scope, receive, send)
    start = sent[0]
    answer_headers = [(k.decode(), v.decode()) for k, v in start["headers"]]
    return start["status"], answer_headers, b"".join(m.get("body", b"") for m in sent[1:])


def comparable(answer: Answer, *, keep_request_id: bool = False) -> Answer:
    status, headers, body = answer
    if not keep_request_id:
        headers = [(k, v if k != "x-request-id" else "<generated>") for k, v in headers]
    return status, headers, body


async def same_both_ways(
    app: Any, stack: Stack, method: str, path: str, *, dispatched: bool = True, **kw: Any
) -> Answer:
    """The request through the dispatch and through the whole stack: the same answer; and
    whether the dispatch served it (`dispatched`) or left it to the stack."""
    before = stack.calls
    fast = await call(app, method, path, **kw)
    assert stack.calls - before == (0 if dispatched else 1), "served by the wrong path"
    full = await call(app, method, path, full=True, **kw)
    keep = "X-Request-Id" in (kw.get("headers") or {})
    assert comparable(fast, keep_request_id=keep) == comparable(full, keep_request_id=keep)
    return fast


def header(answer: Answer, name: str) -> str | None:
    return next((v for k, v in answer[1] if k == name), None)


def problem_code(answer: Answer) -> str:
    import orjson

    assert header(answer, "content-type") == "application/problem+json", answer
    return str(orjson.loads(answer[2])["code"])


def test_the_app_dispatches_its_direct_and_lean_routes(app: Any) -> None:
    assert isinstance(app, LeanDispatchApp)
    paths = app.lean_paths()
    for path in (REDEEM, "/v1/counter/lookup", "/v1/counter/transactions",
                 "/v1/counter/orders/consume", "/v1/campaigns/{campaign_id}/claim",
                 "/v1/programs/{program_id}/join", "/v1/shops/nearby",
                 "/v1/shops/{shop_id}/page"):  # fmt: skip
        assert path in paths


async def test_refusals_request_id_language_and_headers(app: Any, stack: Stack) -> None:
    body = b'{"code": "ABC", "shop_id": "00000000-0000-0000-0000-000000000000"}'
    json = {"Content-Type": "application/json"}
    # no token: the handler's DomainError (401 problem, WWW-Authenticate), in each language
    zh = await same_both_ways(app, stack, "POST", REDEEM, body=body, headers=json)
    assert zh[0] == 401 and problem_code(zh) == "unauthorized"
    assert header(zh, "www-authenticate") == "Bearer"
    assert header(zh, "x-content-type-options") == "nosniff"
    assert len(header(zh, "x-request-id") or "") == 32
    assert uuid.UUID(header(zh, "x-request-id") or "").version == 4
    en = await same_both_ways(
        app, stack, "POST", REDEEM, body=body, headers={**json, "Accept-Language": "en-US"}
    )
    assert en[0] == 401 and en[2] != zh[2]  # the English title
    # the caller's request id is echoed
    mine = await same_both_ways(
        app, stack, "POST", REDEEM, body=body, headers={**json, "X-Request-Id": "abc-123"}
    )
    assert header(mine, "x-request-id") == "abc-123"


async def test_validation_http_errors_and_body_limit(
    app: Any, stack: Stack, client: ApiClient
) -> None:
    clerk = await client.register()
    auth = {"Authorization": f"Bearer {clerk.token}", "Content-Type": "application/json"}
    # the body's 422 (RequestValidationError), a JSON decode error, a bad Idempotency-Key
    for body, headers in ((b"{}", auth), (b'{"code": ', auth),
                          (b'{"code": "A"}', {**auth, "Idempotency-Key": ""})):  # fmt: skip
        answer = await same_both_ways(app, stack, "POST", REDEEM, body=body, headers=headers)
        assert answer[0] == 422 and problem_code(answer) == "validation_error"
    # not UTF-8: HTTPException's problem (400)
    answer = await same_both_ways(app, stack, "POST", REDEEM, body=b'"\xff"', headers=auth)
    assert answer[0] == 400 and problem_code(answer) == "bad_request"
    # a path parameter that is not a UUID: the path's 422
    claim = "/v1/campaigns/not-a-uuid/claim"
    answer = await same_both_ways(app, stack, "POST", claim, body=b"{}", headers=auth)
    assert answer[0] == 422 and problem_code(answer) == "validation_error"
    # the body limit: a declared length over it, and a chunked body passing it
    big = b"x" * (300 * 1024)
    answer = await same_both_ways(app, stack, "POST", REDEEM, body=big, headers=auth)
    assert answer[0] == 413 and problem_code(answer) == "payload_too_large"
    chunked = [b"x" * (64 * 1024)] * 6
    answer = await same_both_ways(app, stack, "POST", REDEEM, body=chunked, headers=auth)
    assert answer[0] == 413 and header(answer, "x-request-id")


async def test_an_unexpected_error_is_a_problem_500(
    app: Any, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    route = next(r for r in app.router.routes if getattr(r, "path", None) == REDEEM)

    async def broken(request: Request) -> Response:
        raise RuntimeError("a defect")

    monkeypatch.setattr(route, "serve", broken)
    answer = await same_both_ways(app, stack, "POST", REDEEM, body=b"{}")
    assert answer[0] == 500 and problem_code(answer) == "internal_error"
    assert b"a defect" not in answer[2]


async def test_direct_read_route_and_metrics(app: Any, stack: Stack) -> None:
    def count(status: str) -> float:
        labels = {"method": "GET", "route": "/v1/shops/nearby", "status": status}
        return REGISTRY.get_sample_value("corner_http_requests_total", labels) or 0.0

    before = count("200"), count("422")
    ok = await same_both_ways(app, stack, "GET", "/v1/shops/nearby", query="lat=31.2&lng=121.4")
    assert ok[0] == 200
    bad = await same_both_ways(app, stack, "GET", "/v1/shops/nearby", query="lat=91&lng=0")
    assert bad[0] == 422
    # each request counted once under its route template, whichever path served it
    assert (count("200"), count("422")) == (before[0] + 2, before[1] + 2)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", REDEEM, 405), ("HEAD", "/v1/shops/nearby", 405), ("PUT", REDEEM, 405),
     ("POST", REDEEM + "/", 307), ("GET", "/v1/shops/nearby/", 307),
     ("GET", "/openapi.json", 200), ("GET", "/v1/counter/nowhere", 404)],
)  # fmt: skip
async def test_what_the_dispatch_does_not_own_goes_through_the_stack(
    app: Any, stack: Stack, method: str, path: str, status: int
) -> None:
    answer = await same_both_ways(app, stack, method, path, dispatched=False)
    assert answer[0] == status


async def test_an_earlier_route_that_matches_first_still_wins() -> None:
    """The router's order: an earlier route with parameters that matches the path takes the
    request, as Starlette's router would give it; other paths of the direct route are
    dispatched."""
    app = LeanDispatchApp()
    install_error_handlers(app)

    async def general(item: str) -> dict[str, str]:
        return {"served_by": "general", "item": item}

    async def direct(request: Request) -> Response:
        return JSONResponse({"served_by": "direct"})

    app.add_api_route("/items/{item}/view", general, methods=["GET"])
    app.router.routes.append(DirectRoute("/items/special/{part}", direct, methods=["GET"]))
    app.router.routes.append(DirectRoute("/items/other", direct, methods=["GET"]))
    stack = Stack(app)
    app.middleware_stack = stack  # type: ignore[assignment]
    # "/items/special/view" matches both: the earlier route answers, through the stack
    answer = await call(app, "GET", "/items/special/view")
    assert answer[2] == b'{"served_by":"general","item":"special"}' and stack.calls == 1
    answer = await call(app, "GET", "/items/special/x")
    assert answer[2] == b'{"served_by":"direct"}' and stack.calls == 1
    answer = await call(app, "GET", "/items/other")
    assert answer[2] == b'{"served_by":"direct"}' and stack.calls == 1
