"""The merchants package's statements of a shop's page (`GET /v1/shops/{shop_id}/page`).

Core statements built once with bind parameters and compiled once for the driver
(core.lean.Statement), run on a psycopg connection (the page reads through the discovery
pools: the replica when one is configured); rows come back as tuples and become read-only
views with the entities' attribute names (core.lean `Detached.view`) for the package's
schema builders. Four statements whatever the
counts: the shop with the merchant's other shops and the review counts, its photos, its
offerings, the latest reviews.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from geoalchemy2.functions import ST_X, ST_Y
from geoalchemy2.types import Geometry
from sqlalchemy import DateTime, Integer, Uuid, bindparam, cast, func, select

from accounts.models import Merchant, User
from core.lean import Connection, Detached, Statement
from merchants.models import Offering, Review, Shop, ShopPhoto
from merchants.repository import ShopRow, open_at

_SHOP = Detached(Shop)
_PHOTO = Detached(ShopPhoto)
_OFFERING = Detached(Offering)
_REVIEW = Detached(Review)


@dataclass(frozen=True)
class ShopPageRows:
    shop: ShopRow
    others: list[ShopRow]  # the merchant's other open shops by name
    review_counts: list[tuple[bool, int, int]]  # (verified, stars, count)


def _shop_id() -> Any:
    return bindparam("shop_id", type_=Uuid)


@cache
def _shops_statement() -> Statement:
    """The shop and up to `others` of its merchant's other open shops by (name, id), the shop
    first; each with its WGS-84 position, the merchant's timezone and whether open at `at`;
    the shop's review counts by (verified, stars) as JSON on every row (computed once: the
    subquery does not depend on the row). No row when the shop is unknown or deleted."""
    s = Shop.__table__.c
    r = Review.__table__.c
    geometry = cast(s.location, Geometry)
    merchant_of_shop = (
        select(s.merchant_id).where(s.id == _shop_id(), s.deleted_at.is_(None)).scalar_subquery()
    )
    grouped = (
        select(r.verified, r.rating, func.count().label("n"))
        .where(r.shop_id == _shop_id())
        .group_by(r.verified, r.rating)
        .subquery("review_counts")
    )
    counts = select(
        func.json_agg(func.json_build_array(grouped.c.verified, grouped.c.rating, grouped.c.n))
    ).scalar_subquery()
    return Statement(
        select(
            *_SHOP.columns,
            ST_Y(geometry),
            ST_X(geometry),
            Merchant.timezone,
            open_at(
                s.opening_hours,
                s.special_hours,
                Merchant.timezone,
                bindparam("at", type_=DateTime(timezone=True)),
            ),
            counts,
        )
        .join_from(Shop.__table__, Merchant.__table__, Merchant.id == s.merchant_id)
        .where(s.merchant_id == merchant_of_shop, s.deleted_at.is_(None))
        .order_by((s.id == _shop_id()).desc(), s.name, s.id)
        .limit(bindparam("rows", type_=Integer))
    )


async def shop_with_others(
    connection: Connection, shop_id: uuid.UUID, at: datetime, others: int
) -> ShopPageRows | None:
    rows = await _shops_statement().all(
        connection, {"shop_id": shop_id, "at": at, "rows": others + 1}
    )
    if not rows or rows[0][_SHOP.keys.index("id")] != shop_id:
        return None
    end = len(_SHOP.keys)
    shops = [
        ShopRow(_SHOP.view(row[:end]), float(row[end]), float(row[end + 1]), row[end + 2],
                bool(row[end + 3]))
        for row in rows
    ]  # fmt: skip
    counts = [(bool(v), int(stars), int(n)) for v, stars, n in rows[0][end + 4] or ()]
    return ShopPageRows(shops[0], shops[1:], counts)


@cache
def _photos_statement() -> Statement:
    p = ShopPhoto.__table__.c
    return Statement(
        select(*_PHOTO.columns)
        .where(p.shop_id == _shop_id())
        .order_by(p.position, p.id)
        .limit(bindparam("limit", type_=Integer))
    )


async def photos_of_shop(connection: Connection, shop_id: uuid.UUID, limit: int) -> list[ShopPhoto]:
    rows = await _photos_statement().all(connection, {"shop_id": shop_id, "limit": limit})
    return [_PHOTO.view(row) for row in rows]


@cache
def _offerings_statement() -> Statement:
    o = Offering.__table__.c
    return Statement(
        select(*_OFFERING.columns)
        .where(o.shop_id == _shop_id(), o.active)
        .order_by(o.id)
        .limit(bindparam("limit", type_=Integer))
    )


async def active_offerings(
    connection: Connection, shop_id: uuid.UUID, limit: int
) -> list[Offering]:
    rows = await _offerings_statement().all(connection, {"shop_id": shop_id, "limit": limit})
    return [_OFFERING.view(row) for row in rows]


@cache
def _reviews_statement() -> Statement:
    r = Review.__table__.c
    return Statement(
        select(*_REVIEW.columns, User.display_name)
        .join_from(Review.__table__, User.__table__, User.id == r.user_id)
        .where(r.shop_id == _shop_id())
        .order_by(r.verified.desc(), r.id.desc())
        .limit(bindparam("limit", type_=Integer))
    )


async def latest_reviews(
    connection: Connection, shop_id: uuid.UUID, limit: int
) -> list[tuple[Review, str]]:
    """Verified reviews first, each part newest first, with the author's display name."""
    rows = await _reviews_statement().all(connection, {"shop_id": shop_id, "limit": limit})
    end = len(_REVIEW.keys)
    return [(_REVIEW.view(row[:end]), row[end]) for row in rows]
