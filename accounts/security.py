"""Passwords (Argon2id), access tokens (JWT, algorithm pinned) and refresh token secrets."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from core.settings import Settings


@lru_cache(maxsize=4)
def _hasher(time_cost: int, memory_kib: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)


def password_hasher(settings: Settings) -> PasswordHasher:
    return _hasher(
        settings.argon2_time_cost, settings.argon2_memory_kib, settings.argon2_parallelism
    )


async def hash_secret(settings: Settings, secret: str) -> str:
    # Argon2 is deliberately slow: keep it off the event loop
    return await asyncio.to_thread(password_hasher(settings).hash, secret)


async def verify_secret(settings: Settings, hashed: str, secret: str) -> bool:
    def check() -> bool:
        try:
            return password_hasher(settings).verify(hashed, secret)
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(check)


# A fixed hash to verify against when the user does not exist, so timing does not tell.
_DUMMY_PASSWORD = "not-a-real-password-" + secrets.token_hex(8)


async def burn_verification(settings: Settings) -> None:
    await verify_secret(settings, await _dummy_hash(settings), _DUMMY_PASSWORD + "x")


_dummy_cache: dict[tuple[int, int, int], str] = {}


async def _dummy_hash(settings: Settings) -> str:
    key = (settings.argon2_time_cost, settings.argon2_memory_kib, settings.argon2_parallelism)
    if key not in _dummy_cache:
        _dummy_cache[key] = await hash_secret(settings, _DUMMY_PASSWORD)
    return _dummy_cache[key]


def create_access_token(
    settings: Settings, user_id: uuid.UUID, now: datetime, family_id: uuid.UUID | None = None
) -> str:
    """`fam` names the sign-in (refresh token family) the token belongs to, so that logging
    out or revoking that family voids its access tokens too (accounts/revocation.py)."""
    claims: dict[str, Any] = {
        "sub": str(user_id),
        "typ": "access",
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=settings.access_token_ttl_seconds)).timestamp()),
        "jti": uuid.uuid4().hex,
    }
    if family_id is not None:
        claims["fam"] = family_id.hex
    return jwt.encode(claims, settings.jwt_secret(), algorithm=settings.jwt_algorithm)


class InvalidAccessToken(Exception):
    pass


@dataclass(frozen=True)
class AccessClaims:
    user_id: uuid.UUID
    expires: int
    issued_at: int
    family_id: str | None


# Verified tokens by (secret, token): a counter tablet sends the same token with every request,
# and checking its signature costs more than the rest of the authentication. A hit still checks
# the expiry; the cache holds only what a full verification accepted. Revocation is checked
# apart from this cache, on every request (accounts/revocation.py).
_VERIFIED_MAX = 4096
_verified: dict[tuple[str, str], AccessClaims] = {}


def decode_access_claims(settings: Settings, token: str) -> AccessClaims:
    key = (settings.jwt_secret(), token)
    hit = _verified.get(key)
    if hit is not None and hit.expires > time.time():
        return hit
    claims = _verify_access_token(settings, token)
    if len(_verified) >= _VERIFIED_MAX:
        del _verified[next(iter(_verified))]  # the oldest entry (dicts keep insertion order)
    _verified[key] = claims
    return claims


def decode_access_token(settings: Settings, token: str) -> uuid.UUID:
    return decode_access_claims(settings, token).user_id


def _verify_access_token(settings: Settings, token: str) -> AccessClaims:
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret(),
            algorithms=[settings.jwt_algorithm],  # pinned: never trust the token's own "alg"
            options={"require": ["exp", "sub", "typ"]},
        )
        if claims.get("typ") != "access":
            raise InvalidAccessToken("not an access token")
        family = claims.get("fam")
        return AccessClaims(
            user_id=uuid.UUID(str(claims["sub"])),
            expires=int(claims["exp"]),
            issued_at=int(claims.get("iat") or 0),
            family_id=str(family) if family is not None else None,
        )
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise InvalidAccessToken(str(exc)) from exc


def new_refresh_secret() -> str:
    return secrets.token_urlsafe(32)


def refresh_token_hash(secret: str) -> bytes:
    # refresh secrets are 256-bit random, so a fast hash is enough (no dictionary to attack)
    return hashlib.sha256(secret.encode()).digest()
