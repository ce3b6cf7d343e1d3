"""The shared async Redis client."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from redis.asyncio import BlockingConnectionPool, Redis

from core.settings import Settings, require


def create_redis(settings: Settings) -> Redis:
    # A blocking pool: a burst past the pool's size waits (up to 2 s) for a connection instead
    # of failing at once with MaxConnectionsError. Every authenticated request reads the token
    # deny-list, so a burst of 500 requests would otherwise turn checks that fail open (the
    # deny-list, the claim limit) into skipped checks: a flood must not switch them off.
    pool = BlockingConnectionPool.from_url(
        require(settings.redis_url, "REDIS_URL"),
        max_connections=100,
        timeout=2,
        decode_responses=False,
        socket_connect_timeout=2,
        socket_timeout=2,
        health_check_interval=30,
    )
    return Redis.from_pool(pool)  # owns the pool: aclose() closes its connections


async def get_redis(request: Request) -> Redis:  # async: no thread-pool hop
    return request.app.state.redis  # type: ignore[no-any-return]


RedisDep = Annotated[Redis, Depends(get_redis)]
