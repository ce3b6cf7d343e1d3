"""One-time SMS codes for sign-in, password reset, account deletion and card PINs, in Redis.

Invariants:
- a code is 6 random digits; Redis holds only its HMAC (keyed with the server secret, so a
  Redis dump does not give the codes away by trying the million candidates), for
  `sms_code_ttl_seconds` (5 minutes);
- one live code per (purpose, phone): a new one replaces the old;
- every wrong try counts, atomically with the comparison (one Lua script), and the code is
  void after `sms_code_max_attempts` wrong tries, whatever the concurrency: at most that many
  guesses are ever compared;
- a right code is consumed by the comparison itself (deleted in the same script): it works once;
- sending is limited per phone (one per `sms_code_interval_seconds`, at most
  `sms_code_max_per_phone_per_day`) and per client address (`sms_code_max_per_ip_per_hour`,
  sized for carrier NAT, where thousands of phones share an address); past a limit, 429 with
  Retry-After. The per-phone interval is taken (SET NX) before the daily count, so parallel
  requests for one phone yield one code.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Literal

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from accounts.service.errors import SmsCodeInvalid, SmsUnavailable
from core import ratelimit
from core.errors import RateLimited
from core.settings import Settings

# card_pin: a member resets a card PIN at the counter (memberships.service.pin_reset)
Purpose = Literal["login", "reset", "delete", "card_pin"]
DAY_SECONDS = 24 * 3600
HOUR_SECONDS = 3600

_VERIFY_SCRIPT = """
local h = redis.call('HGET', KEYS[1], 'h')
if not h then return -1 end
if h == ARGV[1] then redis.call('DEL', KEYS[1]); return 1 end
local n = redis.call('HINCRBY', KEYS[1], 'n', 1)
if n >= tonumber(ARGV[2]) then redis.call('DEL', KEYS[1]) end
return 0
"""


def new_code() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


def _code_key(purpose: str, phone: str) -> str:
    return f"sms:code:{purpose}:{phone}"


def _digest(settings: Settings, purpose: str, phone: str, code: str) -> str:
    key = settings.derived_secret("sms-code").encode()
    return hmac.new(key, f"{purpose}:{phone}:{code}".encode(), hashlib.sha256).hexdigest()


async def take_send_budget(redis: Redis, settings: Settings, *, phone: str, client_ip: str) -> None:
    """Count one code sent to `phone` for `client_ip`; RateLimited past any limit."""
    try:
        sent, ttl = await ratelimit.increment(redis, f"sms:ip:{client_ip}", HOUR_SECONDS)
        if sent > settings.sms_code_max_per_ip_per_hour:
            raise RateLimited(ttl)
        gap_key = f"sms:gap:{phone}"
        if not await redis.set(gap_key, b"1", nx=True, ex=settings.sms_code_interval_seconds):
            raise RateLimited(max(await redis.ttl(gap_key), 1))
        today, ttl = await ratelimit.increment(redis, f"sms:day:{phone}", DAY_SECONDS)
        if today > settings.sms_code_max_per_phone_per_day:
            raise RateLimited(ttl)
    except (RedisConnectionError, RedisTimeoutError) as exc:
        raise SmsUnavailable() from exc


async def store_code(
    redis: Redis, settings: Settings, *, purpose: Purpose, phone: str, code: str
) -> None:
    key = _code_key(purpose, phone)
    try:
        async with redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            pipe.hset(key, mapping={"h": _digest(settings, purpose, phone, code), "n": 0})
            pipe.expire(key, settings.sms_code_ttl_seconds)
            await pipe.execute()
    except (RedisConnectionError, RedisTimeoutError) as exc:
        raise SmsUnavailable() from exc


async def consume_code(
    redis: Redis,
    settings: Settings,
    *,
    purposes: tuple[Purpose, ...],
    phone: str,
    code: str,
    client_ip: str,
) -> Purpose:
    """Check `code` against the live code of the first of `purposes` that has one; consume
    it when right. SmsCodeInvalid otherwise (the try counted)."""
    text = code.strip()
    try:
        tries, ttl = await ratelimit.increment(redis, f"sms:verify-ip:{client_ip}", HOUR_SECONDS)
        if tries > settings.sms_code_max_per_ip_per_hour * settings.sms_code_max_attempts:
            raise RateLimited(ttl)
        if len(text) != 6 or not text.isascii() or not text.isdigit():
            raise SmsCodeInvalid()
        for purpose in purposes:
            outcome = await redis.eval(  # type: ignore[misc]
                _VERIFY_SCRIPT,
                1,
                _code_key(purpose, phone),
                _digest(settings, purpose, phone, text),
                settings.sms_code_max_attempts,
            )
            if int(outcome) == 1:
                return purpose
            if int(outcome) == 0:
                break  # a live code of this purpose was wrong: do not try the next one
    except (RedisConnectionError, RedisTimeoutError) as exc:
        raise SmsUnavailable() from exc
    raise SmsCodeInvalid()
