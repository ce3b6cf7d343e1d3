from __future__ import annotations

import pytest
from pydantic import SecretStr

from core.settings import Settings
from tests.helpers import ApiClient, assert_problem


async def test_health_ready_and_metrics(
    client: ApiClient, test_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    r = await client.get("/readyz")
    assert r.status_code == 200 and r.json()["checks"] == {"database": "ok", "redis": "ok"}
    # issue 17, finding 9: /metrics is not public unless configured so
    assert_problem(await client.get("/metrics"), 404, "not_found")
    monkeypatch.setattr(test_settings, "metrics_token", SecretStr("scrape-me"))
    assert_problem(await client.get("/metrics"), 401, "unauthorized")
    r = await client.get("/metrics", headers={"Authorization": "Bearer wrong"})
    assert_problem(r, 401, "unauthorized")
    r = await client.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
    assert r.status_code == 200
    assert "corner_http_requests_total" in r.text
    monkeypatch.setattr(test_settings, "metrics_token", None)
    monkeypatch.setattr(test_settings, "metrics_public", True)
    assert (await client.get("/metrics")).status_code == 200


async def test_every_answer_says_nosniff(client: ApiClient) -> None:
    """Issue 17, finding 9: `X-Content-Type-Options: nosniff` on every answer, errors too."""
    for path in ("/healthz", "/v1/nowhere", "/openapi.json", "/v1/categories", "/console/"):
        r = await client.get(path)
        assert r.headers.get("x-content-type-options") == "nosniff", path


def test_the_server_sends_no_banner(test_settings: Settings) -> None:
    """Issue 17, finding 9: no `server: uvicorn` header from `corner serve`."""
    import httpx

    from tests.live import live_server

    with live_server(test_settings) as base:
        r = httpx.get(f"{base}/healthz")
    assert r.status_code == 200
    assert "server" not in r.headers, r.headers


async def test_request_id_is_echoed(client: ApiClient) -> None:
    r = await client.get("/healthz", headers={"X-Request-ID": "abc123"})
    assert r.headers["x-request-id"] == "abc123"
    assert len((await client.get("/healthz")).headers["x-request-id"]) == 32


async def test_unknown_route_and_method_are_problems(client: ApiClient) -> None:
    assert_problem(await client.get("/v1/nowhere"), 404, "not_found")
    assert_problem(await client.delete("/healthz"), 405, "method_not_allowed")


async def test_malformed_json_is_422_problem(client: ApiClient) -> None:
    r = await client.post(
        "/v1/auth/register", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert_problem(r, 422, "validation_error")


async def test_openapi_lists_account_routes(client: ApiClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    for path in (
        "/v1/auth/register",
        "/v1/auth/token",
        "/v1/auth/refresh",
        "/v1/me",
        "/v1/merchants",
        "/v1/merchants/{merchant_id}",
        "/v1/merchants/{merchant_id}/staff",
    ):
        assert path in paths
    assert (await client.get("/docs")).status_code == 200


async def test_unexpected_error_is_problem_500_without_internals(app, client: ApiClient) -> None:  # type: ignore[no-untyped-def]
    async def boom() -> None:
        raise RuntimeError("secret internal detail")

    app.add_api_route("/test-boom", boom)
    try:
        r = await client.get("/test-boom")
    finally:
        app.router.routes.pop()
    body = assert_problem(r, 500, "internal_error")
    assert "secret internal detail" not in r.text
    assert body["detail"]
