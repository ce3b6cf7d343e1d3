"""The nearby query (DESIGN: Geography).

Distance order: an index-ordered KNN scan (`ORDER BY location <-> p`, bitmap scans disabled in
the transaction so the planner cannot swap in "collect everything within r, then sort"),
bounded by `ST_DWithin` so sparse areas never walk the table. `<->` is a sphere distance, up to
~0.6% off the spheroid; so it only picks candidates (with slack), and the page is cut from them
by exact spheroid distance (`ST_Distance`, ties by id). The caller checks the slack was enough
(see `candidates_sufficient`) and asks again with more candidates when it was not.

Rating order cannot be index-ordered: it filters by `ST_DWithin` (GiST) and sorts what is left.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import text
from sqlalchemy.sql.elements import TextClause

from core.discovery import Connection, fetch_rows, to_driver_sql

# the query point as a constant expression of parameters, so GiST can order by it
_P = "ST_SetSRID(ST_MakePoint(:lng, :lat), 4326)::geography"

# spheroid/sphere distance ratio over the whole globe lies in [0.9944, 1.0046]; keep margin
SPHEROID_OVER_SPHERE_MIN = 0.99

# Filled by the package that owns campaigns (coupons) through
# merchants.service.register_offer_predicate: SQL over alias `s` (shops) and `:now` that is
# true when a coupon of that shop can be claimed now. Until then no shop "has offers".
_offer_predicates: list[str] = []


def set_offer_predicate(sql: str) -> None:
    _offer_predicates[:] = [sql]
    _statement.cache_clear()
    _driver_statement.cache_clear()


@dataclass(frozen=True)
class NearbyFilters:
    lat: float
    lng: float
    radius_m: float
    at: datetime
    categories: list[str] | None = None
    q_pattern: str | None = None
    q_categories: list[str] | None = None
    open_now: bool = False
    has_offers: bool = False


class NearbyRow(NamedTuple):
    """A shop of a nearby page, in the statement's column order (ids as text: they only go
    out as JSON and into cursors)."""

    id: str
    distance_m: float
    merchant_id: str
    name: str
    category: str
    lat: float
    lng: float
    address: str
    rating: Decimal
    review_count: int
    discovery_only: bool
    opening_hours: str  # JSON text: opening.periods_of_json parses each pattern once
    special_hours: str  # JSON text, nearly always '[]' (opening.special_of_json)
    timezone: str
    candidates: int
    max_sphere_m: float


def _filters(f: NearbyFilters) -> str:
    parts = [f"ST_DWithin(s.location, {_P}, :radius)", "s.deleted_at IS NULL"]
    if f.categories is not None:
        # `|| ''` hides the btree on category: for a popular category the planner would
        # otherwise read the whole category and sort it, instead of walking the GiST in order
        parts.append("(s.category || '') = ANY(:categories)")
    if f.q_pattern is not None:
        parts.append(
            "(s.name ILIKE :q OR s.category = ANY(:q_categories) OR EXISTS ("
            "SELECT 1 FROM offerings o WHERE o.shop_id = s.id AND o.name ILIKE :q))"
        )
    if f.open_now:
        parts.append(
            "corner_shop_open_at(s.opening_hours, s.special_hours,"
            " (SELECT m.timezone FROM merchants m WHERE m.id = s.merchant_id), :now)"
        )
    if f.has_offers:
        parts.append(f"({_offer_predicates[0]})" if _offer_predicates else "false")
    return " AND ".join(parts)


# A page row after its id and distance, read from the shop columns under alias {t}
_PAGE_COLUMNS = """{t}.merchant_id::text, {t}.name, {t}.category,
       ST_Y({t}.location::geometry), ST_X({t}.location::geometry), {t}.address, {t}.rating,
       {t}.review_count, {t}.discovery_only, {t}.opening_hours::text,
       {t}.special_hours::text, m.timezone"""


@lru_cache(maxsize=256)
def _driver_statement(sort: str, where: str, after: bool) -> str:
    return to_driver_sql(_statement(sort, where, after).text)


@lru_cache(maxsize=256)
def _statement(sort: str, where: str, after: bool) -> TextClause:
    if sort == "distance":
        keyset = (
            f" AND (ST_Distance(s.location, {_P}) > :after_d"
            f" OR (ST_Distance(s.location, {_P}) = :after_d AND s.id > :after_id))"
            if after
            else ""
        )
        # the candidates carry the page's shop columns: the KNN scan reads those heap rows
        # anyway, so the page needs no second lookup of each shop (~10% of the statement)
        sql = f"""
WITH c AS MATERIALIZED (
  SELECT s.id, s.location <-> {_P} AS sd, ST_Distance(s.location, {_P}) AS d,
         s.merchant_id, s.name, s.category, s.location, s.address, s.rating,
         s.review_count, s.discovery_only, s.opening_hours, s.special_hours
  FROM shops s
  WHERE {where}{keyset}
  ORDER BY s.location <-> {_P}
  LIMIT :candidates
), r AS (
  SELECT c.*, count(*) OVER () AS n, max(sd) OVER () AS max_sd
  FROM c ORDER BY d, id LIMIT :n1
)
SELECT r.id::text, r.d, {_PAGE_COLUMNS.format(t="r")}, r.n, r.max_sd
FROM r JOIN merchants m ON m.id = r.merchant_id
ORDER BY r.d, r.id"""
    else:
        keyset = (
            " WHERE (x.rating < :after_rating OR (x.rating = :after_rating AND"
            " (x.d > :after_d OR (x.d = :after_d AND x.id > :after_id))))"
            if after
            else ""
        )
        sql = f"""
WITH r AS (
  SELECT x.id, x.d, x.rating FROM (
    SELECT s.id, s.rating, ST_Distance(s.location, {_P}) AS d FROM shops s WHERE {where}
  ) x{keyset}
  ORDER BY x.rating DESC, x.d, x.id
  LIMIT :n1
)
SELECT r.id::text, r.d, {_PAGE_COLUMNS.format(t="s")}, 0, 0.0
FROM r JOIN shops s ON s.id = r.id JOIN merchants m ON m.id = s.merchant_id
ORDER BY s.rating DESC, r.d, r.id"""
    return text(sql)


def candidates_sufficient(rows: list[NearbyRow], wanted: int, asked: int) -> bool:
    """True when no shop outside the candidates can belong in the first `wanted` rows.

    An unfetched shop has sphere distance ≥ the largest candidate's, so spheroid distance ≥
    that × SPHEROID_OVER_SPHERE_MIN. If fewer candidates came than were asked, there are none.
    """
    if not rows or rows[0].candidates < asked:
        return True
    if len(rows) < wanted:
        return False
    return rows[wanted - 1].distance_m < rows[0].max_sphere_m * SPHEROID_OVER_SPHERE_MIN


async def nearby_rows(
    connection: Connection,
    *,
    filters: NearbyFilters,
    sort: str,
    n1: int,
    candidates: int,
    after: dict[str, Any] | None,
) -> list[NearbyRow]:
    params: dict[str, Any] = {
        "lat": filters.lat,
        "lng": filters.lng,
        "radius": filters.radius_m,
        "now": filters.at,
        "n1": n1,
        "candidates": candidates,
    }
    if filters.categories is not None:
        params["categories"] = filters.categories
    if filters.q_pattern is not None:
        params["q"] = filters.q_pattern
        params["q_categories"] = filters.q_categories or []
    if after is not None:
        params["after_d"] = after["d"]
        params["after_id"] = after["id"]
        if sort == "rating":
            params["after_rating"] = after["rating"]
    statement = _driver_statement(sort, _filters(filters), after is not None)
    return [NearbyRow._make(row) for row in await fetch_rows(connection, statement, params)]
