"""`GET /v1/shops/nearby`: exact geodesic discovery with keyset pagination."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import orjson

from core.discovery import Connection
from core.pagination import decode_cursor, encode_cursor
from geo.crs import Crs, from_wgs84, to_wgs84
from merchants.categories import TREE, Category, with_descendants
from merchants.opening import (
    is_open_with_special,
    local_day_clock,
    periods_of_json,
    special_of_json,
)
from merchants.repository import nearby as repo
from merchants.repository import rating_of
from merchants.schemas import NearbyQuery

# a KNN pass that did not prove itself exact is retried with this many times more candidates
_GROWTH = 4


def first_pass_candidates(n1: int) -> int:
    """How many KNN candidates the first pass asks for `n1` rows: enough slack that the
    exactness proof (`candidates_sufficient`) almost always holds without a second pass."""
    return n1 + max(10, n1 // 2)


def register_offer_predicate(sql: str) -> None:
    """For the coupons package: SQL over alias `s` (shops) and bind `:now`, true when a coupon
    of that shop can be claimed at `now`. `has_offers=true` filters on it."""
    repo.set_offer_predicate(sql)


_offer_line: list[Callable[[list[Any]], str]] = []


def register_best_offer(sql: str, line: Callable[[list[Any]], str]) -> None:
    """For the coupons package: a scalar SQL subquery over a shop alias written `{t}` and
    `:now`, giving the shop's best claimable offer as a JSON array (or NULL), and `line`,
    which turns that array into one line of text in the request's language."""
    repo.set_best_offer(sql)
    _offer_line[:] = [line]


def like_pattern(q: str) -> str:
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def categories_matching(q: str) -> list[str]:
    """Codes whose zh-CN or en label (or code) contains q, with their subcategories: a search
    for 面馆 or "laundry" finds shops of that kind even when the name does not say it."""
    needle = q.casefold()
    found: list[str] = []

    def walk(nodes: tuple[Category, ...]) -> None:
        for node in nodes:
            labels = (node.zh, node.en.casefold(), node.code.replace("_", " "))
            if any(needle in label for label in labels):
                found.extend(with_descendants(node.code))
            else:
                walk(node.children)

    walk(TREE)
    return sorted(set(found))


def _cursor_of(row: repo.NearbyRow, sort: str) -> dict[str, Any]:
    values: dict[str, Any] = {"s": sort, "d": row.distance_m, "id": row.id}
    if sort == "rating":
        values["rating"] = str(row.rating)
    return values


def _after(cursor: str | None, sort: str) -> dict[str, Any] | None:
    keys = ("s", "d", "id", "rating") if sort == "rating" else ("s", "d", "id")
    values = decode_cursor(cursor, keys)
    if values is None:
        return None
    from core.errors import InvalidCursor

    try:
        if values["s"] != sort:
            raise InvalidCursor.other_order()
        after: dict[str, Any] = {"d": float(values["d"]), "id": uuid.UUID(str(values["id"]))}
        if sort == "rating":
            after["rating"] = Decimal(str(values["rating"]))
    except (ValueError, ArithmeticError, TypeError) as exc:
        raise InvalidCursor.unreadable() from exc
    return after


async def find_nearby(
    connection: Connection, *, query: NearbyQuery, at: datetime
) -> tuple[list[dict[str, Any]], str | None]:
    """Items as plain dicts (the route serialises them directly: this is the hot path).
    `connection` is a discovery connection (core.discovery): autocommit, bitmap scans off."""
    lat, lng = to_wgs84(query.lat, query.lng, query.crs)
    q = query.q.strip() if query.q else None
    filters = repo.NearbyFilters(
        lat=lat,
        lng=lng,
        radius_m=float(query.radius_m),
        at=at,
        categories=with_descendants(query.category) if query.category else None,
        q_pattern=like_pattern(q) if q else None,
        q_categories=categories_matching(q) if q else None,
        open_now=query.open_now,
        has_offers=query.has_offers,
    )
    after = _after(query.cursor, query.sort)
    n1 = query.limit + 1
    if query.sort == "distance":
        candidates = first_pass_candidates(n1)
        while True:
            rows = await repo.nearby_rows(
                connection,
                filters=filters,
                sort="distance",
                n1=n1,
                candidates=candidates,
                after=after,
            )
            if repo.candidates_sufficient(rows, n1, candidates):
                break
            candidates *= _GROWTH
    else:
        rows = await repo.nearby_rows(
            connection, filters=filters, sort="rating", n1=n1, candidates=0, after=after
        )
    page, more = rows[: query.limit], len(rows) > query.limit
    # shops of a page share few time zones: each zone's local clock is computed once
    clocks = {tz: local_day_clock(tz, at) for tz in {row.timezone for row in page}}
    items = [_item(row, query.crs, clocks[row.timezone]) for row in page]
    next_cursor = encode_cursor(_cursor_of(page[-1], query.sort)) if more else None
    return items, next_cursor


def _item(row: repo.NearbyRow, crs: Crs, clock: tuple[date, float]) -> dict[str, Any]:
    # unpacked once: cheaper than a named attribute per field, 20 rows a request
    (id_, distance_m, merchant_id, name, category, lat, lng, address, rating, review_count,
     discovery_only, opening_hours, special_hours, _, best_offer, _, _) = row  # fmt: skip
    out_lat, out_lng = from_wgs84(lat, lng, crs)
    return {
        "id": id_,
        "merchant_id": merchant_id,
        "name": name,
        "category": category,
        "location": {"lat": round(out_lat, 7), "lng": round(out_lng, 7)},
        "distance_m": round(distance_m, 1),
        "address": address,
        "rating": rating_of(review_count, rating),
        "review_count": review_count,
        # in Python for the page's rows: cheaper than the SQL function per output row
        "open_now": is_open_with_special(
            periods_of_json(opening_hours), special_of_json(special_hours), *clock
        ),
        "discovery_only": discovery_only,
        "best_offer": (
            _offer_line[0](orjson.loads(best_offer)) if best_offer and _offer_line else None
        ),
    }
