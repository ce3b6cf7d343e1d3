"""Bulk shop writes with COPY (the importer and the benchmark), on sync psycopg connections.

Rows are rendered to COPY's text format in Python and sent as one chunk per batch: an order of
magnitude cheaper than adapting each value, so the server (GiST and btree inserts) is the limit.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

import psycopg

COPY_SHOPS = (
    "COPY shops (id, merchant_id, name, category, location, address, phone, opening_hours,"
    " discovery_only) FROM STDIN"
)
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


@dataclass(frozen=True)
class ShopRecord:
    name: str
    category: str
    lat: float
    lng: float
    address: str
    phone: str | None = None
    discovery_only: bool = False
    opening_hours_json: str = "[]"


def merchant_exists(conn: psycopg.Connection, merchant_id: uuid.UUID) -> bool:
    row = conn.execute("SELECT 1 FROM merchants WHERE id = %s", (merchant_id,)).fetchone()
    return row is not None


def render_copy_text(
    merchant_id: uuid.UUID, records: Iterable[tuple[uuid.UUID, ShopRecord]]
) -> str:
    """COPY text format lines; points as EWKT in WGS-84."""
    lines = []
    for shop_id, r in records:
        phone = r.phone.translate(_ESCAPES) if r.phone else "\\N"
        lines.append(
            f"{shop_id}\t{merchant_id}\t{r.name.translate(_ESCAPES)}\t{r.category}\t"
            f"SRID=4326;POINT({r.lng!r} {r.lat!r})\t{r.address.translate(_ESCAPES)}\t{phone}\t"
            f"{r.opening_hours_json.translate(_ESCAPES)}\t{'t' if r.discovery_only else 'f'}\n"
        )
    return "".join(lines)


def copy_shops_text(conn: psycopg.Connection, data: str) -> None:
    """COPY one rendered batch in its own transaction."""
    with conn.transaction(), conn.cursor() as cur, cur.copy(COPY_SHOPS) as copy:
        copy.write(data)
