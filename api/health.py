from __future__ import annotations

import asyncio
import hmac

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text

from core.errors import problem
from core.i18n import localised
from core.metrics import render_metrics

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


async def _check_database(request: Request) -> None:
    async with request.app.state.engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


async def _check_redis(request: Request) -> None:
    await request.app.state.redis.ping()


@router.get("/readyz")
async def readyz(request: Request) -> Response:
    checks = {"database": _check_database(request), "redis": _check_redis(request)}
    results = await asyncio.gather(
        *(asyncio.wait_for(c, timeout=3) for c in checks.values()), return_exceptions=True
    )
    status = {
        name: ("ok" if not isinstance(r, BaseException) else f"down: {type(r).__name__}")
        for name, r in zip(checks, results, strict=True)
    }
    if all(v == "ok" for v in status.values()):
        return JSONResponse({"status": "ready", "checks": status})
    if status["database"] == "ok":
        # without Redis the core flows still work (redeem, card purchases, nearby; sign-in and
        # PIN checks fail closed): stay in the load balancer, and say it is degraded
        return JSONResponse({"status": "degraded", "checks": status})
    return problem(
        503,
        "service_unavailable",
        "Not ready",
        localised("数据库或缓存暂时无法连接", "A backing service is unreachable"),
        extra={"checks": status},
    )


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def metrics(request: Request) -> Response:
    """Prometheus text. Guarded by `CORNER_METRICS_TOKEN` (a bearer token the scraper sends);
    without one it is 404 unless `CORNER_METRICS_PUBLIC=true` (issue 17, finding 9)."""
    settings = request.app.state.settings
    if settings.metrics_token is not None:
        expected = f"Bearer {settings.metrics_token.get_secret_value()}"
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), expected.encode()):
            return problem(401, "unauthorized", "Authentication required",
                           headers={"WWW-Authenticate": "Bearer"})  # fmt: skip
    elif not settings.metrics_public:
        return problem(404, "not_found", "Not found")
    body, content_type = render_metrics()
    return Response(body, media_type=content_type)
