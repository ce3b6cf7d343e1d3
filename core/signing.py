"""Compact HMAC-signed payloads for QR codes and short-lived tokens.

Format: `<kid>.<base64url payload>.<base64url tag>`. Verification needs no database: a forged
or altered payload is refused by the MAC alone. Keys rotate by key id (newest signs, all verify).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from functools import lru_cache
from typing import Any

import orjson

from core.settings import get_settings


class SignatureInvalid(ValueError):
    pass


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _tag(key: bytes, kid: str, body: str) -> bytes:
    # 128-bit truncated HMAC-SHA256 keeps QR codes small while forgery stays infeasible
    return hmac.new(key, f"{kid}.{body}".encode(), hashlib.sha256).digest()[:16]


def sign(payload: dict[str, Any], keys: list[tuple[str, bytes]]) -> str:
    kid, key = keys[0]
    body = _b64(orjson.dumps(payload))
    return f"{kid}.{body}.{_b64(_tag(key, kid, body))}"


def verify(token: str, keys: list[tuple[str, bytes]]) -> dict[str, Any]:
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise SignatureInvalid("malformed token")
    kid, body, tag = parts
    key = dict(keys).get(kid)
    if key is None:
        raise SignatureInvalid("unknown key id")
    try:
        given = _unb64(tag)
        if not hmac.compare_digest(given, _tag(key, kid, body)):
            raise SignatureInvalid("bad signature")
        payload = orjson.loads(_unb64(body))
    except (ValueError, orjson.JSONDecodeError) as exc:
        raise SignatureInvalid("malformed token") from exc
    if not isinstance(payload, dict):
        raise SignatureInvalid("malformed payload")
    return payload


@lru_cache(maxsize=16)
def derived_key(purpose: str) -> bytes:
    """A key for one purpose, derived from the deployment's secret, so every process of the
    deployment agrees on it (opaque cursors, pseudonyms) without another setting."""
    return hashlib.sha256(get_settings().derived_secret(purpose).encode()).digest()


def pseudonym(purpose: str, *parts: uuid.UUID) -> uuid.UUID:
    """A stable id standing for `parts` (e.g. a merchant and a user) that cannot be turned back
    into them without the deployment's secret."""
    message = b"".join(p.bytes for p in parts)
    return uuid.UUID(bytes=hmac.new(derived_key(purpose), message, hashlib.sha256).digest()[:16])
