"""Every query of the merchants package: shops here; nearby, catalog and reviews beside it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from geoalchemy2.functions import ST_X, ST_Y
from geoalchemy2.types import Geometry
from sqlalchemy import Numeric, cast, exists, func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from accounts.models import Merchant
from merchants.models import Shop


def point(lat: float, lng: float) -> Any:
    """A WGS-84 geography point for binding into queries."""
    return func.ST_SetSRID(func.ST_MakePoint(lng, lat), 4326).cast(Shop.location.type)


def open_at(hours: Any, special: Any, timezone: Any, at: Any) -> Any:
    """SQL: is a shop with these weekly and special hours open at `at` (a datetime or an
    SQL expression such as a bind parameter; migration 1031)."""
    return func.corner_shop_open_at(hours, special, timezone, at)


def shop_of_merchant_expression(
    merchant_id: ColumnElement[Any], shop_id: Any
) -> ColumnElement[bool]:
    """SQL: the (not deleted) shop belongs to the merchant `merchant_id` (a column of the
    caller's query): the same test as `ShopRepository.ids_of_merchant`, inside one statement."""
    return exists().where(
        Shop.id == shop_id, Shop.merchant_id == merchant_id, Shop.deleted_at.is_(None)
    )


@dataclass(frozen=True)
class ShopRow:
    shop: Shop
    lat: float
    lng: float
    timezone: str
    open_now: bool


def rating_of(count: int, stored: Decimal) -> float | None:
    """The average shown to people: none before the first review."""
    return float(stored) if count else None


def _shop_rows(at: datetime) -> Any:
    """Shops with their WGS-84 position, their merchant's timezone and whether open at `at`:
    the columns of a `ShopRow`."""
    geometry = cast(Shop.location, Geometry)
    return select(
        Shop,
        ST_Y(geometry),
        ST_X(geometry),
        Merchant.timezone,
        open_at(Shop.opening_hours, Shop.special_hours, Merchant.timezone, at),
    ).join(Merchant, Merchant.id == Shop.merchant_id)


def _shop_row(row: Any) -> ShopRow:
    return ShopRow(row[0], float(row[1]), float(row[2]), row[3], bool(row[4]))


class ShopRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, shop: Shop) -> Shop:
        self.session.add(shop)
        await self.session.flush()
        return shop

    async def get_with_position(self, shop_id: uuid.UUID, at: datetime) -> ShopRow | None:
        """The (open) shop, its WGS-84 position, its merchant's timezone, and whether open."""
        stmt = _shop_rows(at).where(Shop.id == shop_id, Shop.deleted_at.is_(None))
        row = (await self.session.execute(stmt)).one_or_none()
        return _shop_row(row) if row is not None else None

    async def page_of_merchant(
        self, merchant_id: uuid.UUID, at: datetime, after: tuple[str, uuid.UUID] | None, limit: int
    ) -> list[ShopRow]:
        """The merchant's open shops by (name, id), from after the cursor; limit+1 rows."""
        stmt = (
            _shop_rows(at)
            .where(Shop.merchant_id == merchant_id, Shop.deleted_at.is_(None))
            .order_by(Shop.name, Shop.id)
            .limit(limit + 1)
        )
        if after is not None:
            stmt = stmt.where(tuple_(Shop.name, Shop.id) > tuple_(*after))
        return [_shop_row(r) for r in (await self.session.execute(stmt)).all()]

    async def merchant_of(self, shop_id: uuid.UUID) -> uuid.UUID | None:
        stmt = select(Shop.merchant_id).where(Shop.id == shop_id, Shop.deleted_at.is_(None))
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def lock(self, shop_id: uuid.UUID, merchant_id: uuid.UUID) -> Shop | None:
        stmt = (
            select(Shop)
            .where(Shop.id == shop_id, Shop.merchant_id == merchant_id, Shop.deleted_at.is_(None))
            .with_for_update()
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def soft_delete(self, shop_id: uuid.UUID, merchant_id: uuid.UUID, at: datetime) -> bool:
        stmt = (
            update(Shop)
            .where(Shop.id == shop_id, Shop.merchant_id == merchant_id, Shop.deleted_at.is_(None))
            .values(deleted_at=at)
            .returning(Shop.id)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none() is not None

    async def add_rating(self, shop_id: uuid.UUID, stars: int) -> None:
        """One atomic UPDATE, so concurrent reviews never lose a count."""
        stmt = (
            update(Shop)
            .where(Shop.id == shop_id)
            .values(
                review_count=Shop.review_count + 1,
                rating_total=Shop.rating_total + stars,
                rating=func.round(
                    cast(Shop.rating_total + stars, Numeric) / (Shop.review_count + 1), 2
                ),
            )
        )
        await self.session.execute(stmt)

    async def names_of_merchant(self, merchant_id: uuid.UUID) -> set[str]:
        stmt = select(Shop.name).where(Shop.merchant_id == merchant_id, Shop.deleted_at.is_(None))
        return set((await self.session.execute(stmt)).scalars())

    async def ids_of_merchant(
        self, merchant_id: uuid.UUID, shop_ids: list[uuid.UUID]
    ) -> set[uuid.UUID]:
        stmt = select(Shop.id).where(
            Shop.merchant_id == merchant_id, Shop.id.in_(shop_ids), Shop.deleted_at.is_(None)
        )
        return set((await self.session.execute(stmt)).scalars())
