"""The shared async Redis client."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from redis.asyncio import Redis

from core.settings import Settings, require


def create_redis(settings: Settings) -> Redis:
    return Redis.from_url(
        require(settings.redis_url, "REDIS_URL"),
        decode_responses=False,
        socket_connect_timeout=2,
        socket_timeout=2,
        health_check_interval=30,
    )


async def get_redis(request: Request) -> Redis:  # async: no thread-pool hop
    return request.app.state.redis  # type: ignore[no-any-return]


RedisDep = Annotated[Redis, Depends(get_redis)]
