"""`corner import-shops`: CSV (`name,lat,lng,category,address[,phone]`) or GeoJSON points.

Rows are validated one by one; a bad row is counted with its reason and skipped, the rest go
to the database in COPY batches (each batch its own transaction, so progress is durable).
"""

from __future__ import annotations

import csv
import math
import threading
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import psycopg

from accounts.schemas import normalise_phone
from core.ids import new_id
from core.settings import to_libpq_url
from geo.crs import Crs, to_wgs84
from merchants.categories import is_known, with_descendants
from merchants.repository.bulk import (
    ShopRecord,
    copy_shops_text,
    merchant_exists,
    render_copy_text,
)

REQUIRED_COLUMNS = ("name", "lat", "lng", "category", "address")
_DISCOVERY_ONLY = frozenset(with_descendants("public_service"))
MAX_EXAMPLES = 20


class ImportFailed(Exception):
    """The whole file cannot be imported (unknown merchant, unreadable file, bad header)."""


class RowRejected(ValueError):
    pass


@dataclass
class ImportReport:
    imported: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    examples: list[tuple[int, str]] = field(default_factory=list)

    def reject(self, row_number: int, reason: str) -> None:
        self.rejected[reason] += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append((row_number, reason))

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())


def _coordinate(raw: Any, low: float, high: float) -> float:
    try:
        value = float(raw)
    except (TypeError, ValueError) as exc:
        raise RowRejected("bad coordinates") from exc
    if not math.isfinite(value) or not low <= value <= high:
        raise RowRejected("bad coordinates")
    return value


def validate(fields: dict[str, Any], crs: Crs) -> ShopRecord:
    name = str(fields.get("name") or "").strip()
    if not name:
        raise RowRejected("missing name")
    if len(name) > 120:
        raise RowRejected("name too long")
    lat = _coordinate(fields.get("lat"), -90, 90)
    lng = _coordinate(fields.get("lng"), -180, 180)
    category = str(fields.get("category") or "").strip()
    if not is_known(category):
        raise RowRejected("unknown category")
    address = str(fields.get("address") or "").strip()
    if not address:
        raise RowRejected("missing address")
    if len(address) > 255:
        raise RowRejected("address too long")
    phone_raw = str(fields.get("phone") or "").strip()
    try:
        phone = normalise_phone(phone_raw) if phone_raw else None
    except ValueError as exc:
        raise RowRejected("bad phone") from exc
    lat, lng = to_wgs84(lat, lng, crs)
    return ShopRecord(
        name=name,
        category=category,
        lat=lat,
        lng=lng,
        address=address,
        phone=phone,
        discovery_only=category in _DISCOVERY_ONLY,
    )


def _csv_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ImportFailed(f"the CSV header lacks: {', '.join(missing)}")
        yield from enumerate(reader, start=2)


def _geojson_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        document = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise ImportFailed(f"not valid JSON: {exc}") from exc
    features = document.get("features") if isinstance(document, dict) else None
    if not isinstance(features, list):
        raise ImportFailed("expected a GeoJSON FeatureCollection")
    for number, feature in enumerate(features, start=1):
        geometry = feature.get("geometry") if isinstance(feature, dict) else None
        props = feature.get("properties") if isinstance(feature, dict) else None
        fields: dict[str, Any] = dict(props) if isinstance(props, dict) else {}
        coords = geometry.get("coordinates") if isinstance(geometry, dict) else None
        if (
            isinstance(geometry, dict)
            and geometry.get("type") == "Point"
            and isinstance(coords, list)
            and len(coords) >= 2
        ):
            fields["lng"], fields["lat"] = coords[0], coords[1]
        else:
            fields["lat"] = fields["lng"] = None  # rejected as bad coordinates
        yield number, fields


def count_rows(path: Path) -> int:
    if is_geojson(path):
        document = orjson.loads(path.read_bytes())
        return len(document.get("features") or []) if isinstance(document, dict) else 0
    with path.open("rb") as f:
        return max(0, sum(1 for _ in f) - 1)


def is_geojson(path: Path) -> bool:
    return path.suffix.lower() in (".geojson", ".json")


def import_shops(
    database_url: str,
    path: Path,
    *,
    merchant_id: uuid.UUID,
    crs: Crs = "wgs84",
    batch_size: int = 10_000,
    writers: int = 2,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import every valid row; `progress(n)` is called with the rows read since the last call.

    This thread reads, validates and renders batches; `writers` threads, each with its own
    connection, COPY them concurrently (the server's index inserts are the slow part).
    """
    report = ImportReport()
    url = to_libpq_url(database_url)
    with psycopg.connect(url) as conn:
        if not merchant_exists(conn, merchant_id):
            raise ImportFailed(f"merchant {merchant_id} does not exist")
    rows = _geojson_rows(path) if is_geojson(path) else _csv_rows(path)
    local = threading.local()
    connections: list[psycopg.Connection] = []
    lock = threading.Lock()

    def write(data: str) -> None:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = psycopg.connect(url)
            with lock:
                connections.append(conn)
        copy_shops_text(conn, data)

    in_flight: deque[tuple[Future[None], int, int]] = deque()

    def settle(limit: int) -> None:
        while len(in_flight) > limit:
            future, imported, read = in_flight.popleft()
            future.result()
            report.imported += imported
            if progress is not None:
                progress(read)

    try:
        with ThreadPoolExecutor(max_workers=writers) as pool:
            batch: list[tuple[uuid.UUID, ShopRecord]] = []
            read = 0
            for number, fields in rows:
                read += 1
                try:
                    batch.append((new_id(), validate(fields, crs)))
                except RowRejected as exc:
                    report.reject(number, str(exc))
                if read >= batch_size:
                    data = render_copy_text(merchant_id, batch)
                    in_flight.append((pool.submit(write, data), len(batch), read))
                    batch, read = [], 0
                    settle(2 * writers)  # bounded memory: a few batches in the air
            if read:
                data = render_copy_text(merchant_id, batch)
                in_flight.append((pool.submit(write, data), len(batch), read))
            settle(0)
    finally:
        for conn in connections:
            conn.close()
    return report
