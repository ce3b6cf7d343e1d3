"""The payment PIN check with its lockout: 5 wrong PINs lock spending for 15 minutes.

Failures are counted in Redis, not in the request's transaction: a wrong PIN answers 403 and
rolls the transaction back, and the count must survive that. An attempt is taken (atomic
INCR, in one script with the lock check) *before* the PIN is verified, so at most 5 PINs are
ever evaluated per window whatever the concurrency: 29 parallel guesses used to be all checked
and the right PIN after them spent the points (issue 17, finding 3). A right PIN gives its
attempt back by clearing the count. The lock stores its end time, checked against the
request's clock.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from accounts.security import verify_secret
from core import ratelimit
from core.settings import Settings
from memberships.models import Card
from memberships.service.errors import (
    CardPinInvalid,
    CardPinLocked,
    CardPinNotSet,
    CardPinRequired,
    CardPinUnavailable,
)

MAX_PIN_FAILURES = 5
PIN_LOCK = timedelta(minutes=15)


def _failures_key(card: Card) -> str:
    return f"card_pin_failures:{card.id}"


def _lock_key(card: Card) -> str:
    return f"card_pin_lock:{card.id}"


async def pin_locked_for(redis: Redis, card: Card, now: datetime) -> int:
    """Seconds until spending unlocks (0 when it is not locked)."""
    raw = await redis.get(_lock_key(card))
    if raw is None:
        return 0
    remaining = float(raw) - now.timestamp()
    return math.ceil(remaining) if remaining > 0 else 0


async def check_pin(
    settings: Settings, redis: Redis, *, card: Card, pin: str | None, now: datetime
) -> None:
    """Refuse unless `pin` is right and the card is not locked; 503 without Redis."""
    try:
        await _check_pin(settings, redis, card=card, pin=pin, now=now)
    except (RedisConnectionError, RedisTimeoutError) as exc:
        raise CardPinUnavailable() from exc


def _lockout(card: Card) -> ratelimit.Lockout:
    return ratelimit.Lockout(
        failures_key=_failures_key(card),
        inflight_key=f"card_pin_inflight:{card.id}",
        lock_key=_lock_key(card),
        limit=MAX_PIN_FAILURES,
        window_seconds=int(PIN_LOCK.total_seconds()),
    )


async def _check_pin(
    settings: Settings, redis: Redis, *, card: Card, pin: str | None, now: datetime
) -> None:
    locked = await pin_locked_for(redis, card, now)
    if locked:
        raise CardPinLocked(locked)
    if card.pin_hash is None:
        raise CardPinNotSet()
    if not pin:
        raise CardPinRequired()
    lockout = _lockout(card)
    try:
        await lockout.take(redis, now.timestamp())
    except ratelimit.Locked as exc:
        raise CardPinLocked(exc.retry_after) from exc
    right: bool | None = None
    try:
        right = await verify_secret(settings, card.pin_hash, pin)
    finally:
        failures = await lockout.release(redis, failed=None if right is None else not right)
    if right:
        return
    if failures >= MAX_PIN_FAILURES:
        until = now + PIN_LOCK
        # the failures are left to expire with their window: they keep refusing attempts even
        # before the lock below is written
        await redis.set(_lock_key(card), str(until.timestamp()), ex=lockout.window_seconds)
        raise CardPinLocked(lockout.window_seconds)
    raise CardPinInvalid(extra={"attempts_left": MAX_PIN_FAILURES - failures})


async def clear_pin_lock(redis: Redis, card: Card) -> None:
    """A PIN set with a proof of the member's phone lifts the lock and forgets the failures."""
    try:
        await redis.delete(_lock_key(card), _failures_key(card))
    except (RedisConnectionError, RedisTimeoutError) as exc:
        raise CardPinUnavailable() from exc
