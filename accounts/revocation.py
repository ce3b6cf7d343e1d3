"""Access tokens refused before they expire: after logout, a family revocation, a reset.

Access tokens are verified by their signature alone (no database on hot paths), so revoking a
refresh token family used to leave its access tokens working for up to 15 minutes (issue 17,
finding 9). Each access token names its sign-in (`fam`, the refresh token family); a short
deny-list in Redis, `revoked:family:<id>`, names the sign-ins revoked since (logout, a replayed
refresh token, every live one of a user at password reset), and `revoked:user:<id>` the
accounts deleted since (`DELETE /v1/me`: every token of that user, whatever its sign-in).
Entries live as long as an access token can, so the list stays small. It is read on every
authenticated request (one EXISTS naming both keys: one round trip).
Without Redis the check is skipped and logged: a token's signature still holds, and the API
keeps serving through a Redis outage (docs/security.md).
"""

from __future__ import annotations

import uuid

import structlog
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from accounts.security import AccessClaims
from core.settings import Settings

log = structlog.get_logger("corner.accounts")


def _family_key(family_id: str) -> str:
    return f"revoked:family:{family_id}"


async def revoke_families(redis: Redis, settings: Settings, families: set[uuid.UUID]) -> None:
    """Deny the access tokens of these sign-ins for as long as any of them can live."""
    if not families:
        return
    async with redis.pipeline(transaction=False) as pipe:
        for family_id in families:
            pipe.set(_family_key(family_id.hex), "1", ex=settings.access_token_ttl_seconds + 60)
        await pipe.execute()


def _user_key(user_id: uuid.UUID) -> str:
    return f"revoked:user:{user_id.hex}"


async def revoke_user(redis: Redis, settings: Settings, user_id: uuid.UUID) -> None:
    """Deny every access token of this user (the account is deleted) for as long as any of
    them can live; no new one can be issued for an erased account."""
    await redis.set(_user_key(user_id), "1", ex=settings.access_token_ttl_seconds + 60)


async def is_revoked(redis: Redis, claims: AccessClaims) -> bool:
    # tokens not issued by a sign-in (tools, benchmarks) have no family: the user key only
    keys = [_user_key(claims.user_id)]
    if claims.family_id is not None:
        keys.append(_family_key(claims.family_id))
    try:
        return bool(await redis.exists(*keys))
    except (RedisConnectionError, RedisTimeoutError) as exc:
        log.warning("token_revocation_check_skipped", reason=type(exc).__name__)
        return False
