"""A per-user claim rate limit that fails open.

Claims are already bounded by the database (per-user limit, total quantity); the rate limit only
slows down scripted claiming across many campaigns. Without Redis it lets claims through rather
than stopping a core flow, and says so in the log.
"""

from __future__ import annotations

import uuid

import structlog
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from core import ratelimit
from core.errors import RateLimited

CLAIMS_PER_WINDOW = 60
WINDOW_SECONDS = 60

log = structlog.get_logger("corner.coupons")


async def check_claim_rate(redis: Redis, *, user_id: uuid.UUID) -> None:
    try:
        count, ttl = await ratelimit.increment(redis, f"claim:user:{user_id}", WINDOW_SECONDS)
    except (RedisConnectionError, RedisTimeoutError) as exc:
        log.warning("claim_rate_limit_skipped", reason=type(exc).__name__)
        return
    if count > CLAIMS_PER_WINDOW:
        raise RateLimited(ttl or WINDOW_SECONDS)
