"""Fixed-window counters in Redis for rate limits (login, PIN, claim).

Limits that guard a secret (passwords, PINs) take the attempt *before* the secret is checked,
with one atomic step: at most the limit of attempts is ever evaluated in a window, however
many arrive at once. Reading a count and raising it after the check lets a parallel burst
through (issue 17, findings 2 and 3).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

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


# Lockouts keep two counts: failures in the window, and attempts being evaluated right now
# (`inflight`, a short TTL so a crashed process cannot hold a slot for long). An attempt is
# admitted only while failures + inflight < limit, so at most `limit` wrong guesses are ever
# evaluated in a window; a burst past that waits for the evaluations in flight (right answers
# give their slot back) and then meets the lock. A lock with an end time (KEYS[3]) is compared
# with the caller's clock; one whose time is over is cleared together with the failures.
_TAKE_SCRIPT = """
local lock = redis.call('GET', KEYS[3])
if lock then
  local remaining = tonumber(lock) - tonumber(ARGV[1])
  if remaining > 0 then return {-1, math.ceil(remaining)} end
  redis.call('DEL', KEYS[1], KEYS[3])
end
local failures = tonumber(redis.call('GET', KEYS[1]) or '0')
if failures >= tonumber(ARGV[3]) then
  local ttl = redis.call('TTL', KEYS[1])
  if ttl < 0 then ttl = tonumber(ARGV[2]) end
  return {-1, ttl}
end
local inflight = tonumber(redis.call('GET', KEYS[2]) or '0')
if failures + inflight >= tonumber(ARGV[3]) then return {0, 0} end
redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[4])
return {1, 0}
"""

# ARGV[1]: 1 failed (count it), 0 succeeded (clear the failures), -1 aborted (neither)
_RELEASE_SCRIPT = """
if redis.call('DECR', KEYS[2]) <= 0 then redis.call('DEL', KEYS[2]) end
if tonumber(ARGV[1]) == 1 then
  local n = redis.call('INCR', KEYS[1])
  if n == 1 or redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
  return n
end
if tonumber(ARGV[1]) == 0 then redis.call('DEL', KEYS[1]) end
return 0
"""

INFLIGHT_TTL_SECONDS = 30


class Locked(Exception):
    """The limit is reached (or a lock is on): nothing may be evaluated for `retry_after` s."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = max(1, retry_after)


@dataclass(frozen=True)
class Lockout:
    """Where one guarded secret (an account's password, a card's PIN) keeps its counts."""

    failures_key: str
    inflight_key: str
    lock_key: str
    limit: int
    window_seconds: int

    async def take(self, redis: Redis, now: float, wait_seconds: float = 5.0) -> None:
        """Admit one evaluation or raise `Locked`; waits while the slots are all in flight."""
        deadline = time.monotonic() + wait_seconds
        while True:
            admitted, seconds = await redis.eval(  # type: ignore[misc]
                _TAKE_SCRIPT,
                3,
                self.failures_key,
                self.inflight_key,
                self.lock_key,
                repr(now),
                self.window_seconds,
                self.limit,
                INFLIGHT_TTL_SECONDS,
            )
            if int(admitted) == 1:
                return
            if int(admitted) < 0:
                raise Locked(int(seconds))
            if time.monotonic() >= deadline:
                raise Locked(1)
            await asyncio.sleep(0.02)

    async def release(self, redis: Redis, *, failed: bool | None) -> int:
        """End an admitted evaluation: failed (counted; returns the failures so far), right
        (failures cleared) or None when it was aborted by an error (neither)."""
        outcome = -1 if failed is None else int(failed)
        count = await redis.eval(  # type: ignore[misc]
            _RELEASE_SCRIPT, 2, self.failures_key, self.inflight_key, outcome, self.window_seconds
        )
        return int(count)


async def reset(redis: Redis, key: str) -> None:
    await redis.delete(key)
