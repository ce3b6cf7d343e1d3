"""Decoding of this package's keyset cursors; a tampered cursor is a 422, never a 500."""

from __future__ import annotations

import uuid
from datetime import datetime

from core.errors import InvalidCursor
from core.pagination import decode_cursor


def time_id_cursor(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    position = decode_cursor(cursor, ("t", "id"))
    if position is None:
        return None
    try:
        at = datetime.fromisoformat(str(position["t"]))
        if at.tzinfo is None:
            raise ValueError("naive time")
        return at, uuid.UUID(str(position["id"]))
    except ValueError as exc:
        raise InvalidCursor("The cursor does not belong to this list") from exc


def seq_cursor(cursor: str | None) -> int | None:
    position = decode_cursor(cursor, ("seq",))
    if position is None:
        return None
    seq = position["seq"]
    if not isinstance(seq, int) or isinstance(seq, bool) or not 0 < seq < 2**63:
        raise InvalidCursor("The cursor does not belong to this list")
    return seq
