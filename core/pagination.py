"""Opaque keyset cursors and the `{items, next_cursor}` page shape."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

import orjson
from fastapi import Query
from pydantic import BaseModel

from core.errors import InvalidCursor

T = TypeVar("T")
DEFAULT_LIMIT = 20
MAX_LIMIT = 100

LimitQuery = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size")]
CursorQuery = Annotated[str | None, Query(max_length=512, description="Opaque cursor")]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def encode_cursor(values: dict[str, Any]) -> str:
    raw = orjson.dumps(values, default=str)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str | None, required_keys: tuple[str, ...]) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, orjson.JSONDecodeError) as exc:
        raise InvalidCursor("The cursor could not be decoded") from exc
    if not isinstance(values, dict) or any(k not in values for k in required_keys):
        raise InvalidCursor("The cursor does not belong to this list")
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
        raise InvalidCursor("The cursor does not belong to this list") from exc


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
