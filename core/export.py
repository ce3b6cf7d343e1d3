"""Rows as plain JSON-ready dicts for a person's data export (GET /v1/me/export).

Every package exports its own tables through `rows_of`: the columns as stored, so nothing the
service holds about the person is left out by a schema that shows less; secrets (password
and PIN hashes, token digests) are named in `exclude` by the package that owns them.
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Awaitable, Callable, Iterable
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from geoalchemy2.elements import WKBElement
from sqlalchemy import ColumnElement, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession


def _point(value: WKBElement) -> dict[str, float] | None:
    """A PostGIS point (EWKB) as WGS-84 `{lat, lng}`; other shapes are not stored here."""
    data = bytes(value.data)
    endian = "<" if data[0] == 1 else ">"
    (kind,) = struct.unpack(endian + "I", data[1:5])
    if kind & 0xFF != 1:
        return None
    start = 9 if kind & 0x20000000 else 5
    lng, lat = struct.unpack(endian + "dd", data[start : start + 16])
    return {"lat": lat, "lng": lng}


def _plain(value: Any) -> Any:
    if isinstance(value, WKBElement):
        return _point(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return None  # images and digests: not personal text, and not JSON
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def row_dict(obj: Any, exclude: Iterable[str] = ()) -> dict[str, Any]:
    skip = set(exclude)
    mapper = inspect(type(obj))
    return {
        attr.key: _plain(getattr(obj, attr.key))
        for attr in mapper.column_attrs
        if attr.key not in skip
    }


def rows_of(objects: Iterable[Any], exclude: Iterable[str] = ()) -> list[dict[str, Any]]:
    skip = tuple(exclude)
    return [row_dict(o, skip) for o in objects]


async def export_tables(
    session: AsyncSession, specs: dict[str, tuple[Any, ColumnElement[bool], tuple[str, ...]]]
) -> dict[str, list[dict[str, Any]]]:
    """`{name: (Model, where, excluded columns)}` → `{name: rows}`; one statement a table.
    Each package names its own tables and the condition that makes a row the person's."""
    out: dict[str, list[dict[str, Any]]] = {}
    for name, (model, where, exclude) in specs.items():
        rows = (await session.execute(select(model).where(where))).scalars()
        out[name] = rows_of(rows, exclude)
    return out


Specs = dict[str, tuple[Any, ColumnElement[bool], tuple[str, ...]]]
Exporter = Callable[..., Awaitable[dict[str, list[dict[str, Any]]]]]


def personal_data_exporter(specs_of: Callable[[uuid.UUID], Specs]) -> Exporter:
    """A package's `export_personal_data(session, *, user_id)` from its table specs."""

    async def export_personal_data(
        session: AsyncSession, *, user_id: uuid.UUID
    ) -> dict[str, list[dict[str, Any]]]:
        return await export_tables(session, specs_of(user_id))

    return export_personal_data
