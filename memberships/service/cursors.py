"""Decoding of this package's keyset cursors; a tampered cursor is a 422, never a 500."""

from __future__ import annotations

import uuid
from datetime import datetime

from core.errors import InvalidCursor
from core.pagination import aware_time_value, decode_cursor, decode_cursor_as, uuid_value


def time_id_cursor(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    position = decode_cursor_as(cursor, {"t": aware_time_value, "id": uuid_value})
    return (position["t"], position["id"]) if position else None


def seq_cursor(cursor: str | None) -> int | None:
    position = decode_cursor(cursor, ("seq",))
    if position is None:
        return None
    seq = position["seq"]
    if not isinstance(seq, int) or isinstance(seq, bool) or not 0 < seq < 2**63:
        raise InvalidCursor.other_list()
    return seq
