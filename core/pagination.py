"""Opaque keyset cursors and the `{items, next_cursor}` page shape.

Cursors are signed (HMAC-SHA256 with a key derived from the deployment's secret, truncated to
128 bits): a cursor the server did not write is refused 422 `invalid_cursor` before any of its
values is read. Edited cursors whose values had the wrong types used to reach the queries and
answer 500 (issue 17, finding 7); the services' own strict conversions stay as a second line.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

import orjson
from fastapi import Query
from pydantic import BaseModel

from core.errors import InvalidCursor
from core.signing import derived_key

T = TypeVar("T")
DEFAULT_LIMIT = 20
MAX_LIMIT = 100

LimitQuery = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size")]
CursorQuery = Annotated[str | None, Query(max_length=512, description="Opaque cursor")]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def _tag(body: bytes) -> bytes:
    return hmac.new(derived_key("cursor"), body, hashlib.sha256).digest()[:16]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def encode_cursor(values: dict[str, Any]) -> str:
    body = _b64(orjson.dumps(values, default=str))
    return f"{body}.{_b64(_tag(body.encode()))}"


def decode_cursor(cursor: str | None, required_keys: tuple[str, ...]) -> dict[str, Any] | None:
    if not cursor:
        return None
    body, _, tag = cursor.partition(".")
    try:
        given = base64.urlsafe_b64decode((tag + "=" * (-len(tag) % 4)).encode())
        # only the canonical spelling of the tag: base64 ignores the last character's spare
        # bits, so an edited last character could otherwise decode to the genuine tag
        canonical = _b64(given) == tag
        if not canonical or not hmac.compare_digest(given, _tag(body.encode())):
            raise InvalidCursor.not_ours()
        values = orjson.loads(base64.urlsafe_b64decode((body + "=" * (-len(body) % 4)).encode()))
    except (ValueError, orjson.JSONDecodeError) as exc:
        raise InvalidCursor.unreadable() from exc
    if not isinstance(values, dict) or any(k not in values for k in required_keys):
        raise InvalidCursor.other_list()
    return values


def decode_cursor_as(
    cursor: str | None, converters: dict[str, Callable[[Any], Any]]
) -> dict[str, Any] | None:
    """Decode a cursor and convert each of its values (e.g. `{"id": uuid_value}`); a value
    that does not convert is an invalid cursor (422), never a 500."""
    values = decode_cursor(cursor, tuple(converters))
    if values is None:
        return None
    try:
        return {key: convert(values[key]) for key, convert in converters.items()}
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise InvalidCursor.other_list() from exc


def uuid_value(raw: Any) -> uuid.UUID:
    return uuid.UUID(str(raw))


def aware_time_value(raw: Any) -> datetime:
    moment = datetime.fromisoformat(str(raw))
    if moment.tzinfo is None:
        raise ValueError("a cursor time carries its offset")
    return moment


def page_from_rows(rows: list[T], limit: int, cursor_of: Any) -> tuple[list[T], str | None]:
    """Rows were fetched with limit+1: the extra row only tells that another page exists."""
    if len(rows) > limit:
        items = rows[:limit]
        return items, encode_cursor(cursor_of(items[-1]))
    return rows, None
