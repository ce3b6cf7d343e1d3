"""Fixed-window counters in Redis for rate limits (login, PIN, claim)."""

from __future__ import annotations

from redis.asyncio import Redis

# INCR then set the window on the first hit, atomically, so a crash cannot leave a key forever
_INCR_SCRIPT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {n, ttl}
"""


async def increment(redis: Redis, key: str, window_seconds: int) -> tuple[int, int]:
    """Count one event in the window; returns (count so far, seconds until the window ends)."""
    count, ttl = await redis.eval(_INCR_SCRIPT, 1, key, window_seconds)  # type: ignore[misc]
    return int(count), int(ttl)


async def current(redis: Redis, key: str) -> tuple[int, int]:
    async with redis.pipeline(transaction=False) as pipe:
        pipe.get(key)
        pipe.ttl(key)
        raw, ttl = await pipe.execute()
    return (int(raw) if raw else 0), max(int(ttl), 0)


async def reset(redis: Redis, key: str) -> None:
    await redis.delete(key)
