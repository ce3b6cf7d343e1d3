"""Every query of the merchants package."""

from __future__ import annotations

import uuid
from typing import Any

from geoalchemy2.functions import ST_X, ST_Y
from geoalchemy2.types import Geometry
from sqlalchemy import cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.models import Merchant
from merchants.models import Shop


def point(lat: float, lng: float) -> Any:
    """A WGS-84 geography point for binding into queries."""
    return func.ST_SetSRID(func.ST_MakePoint(lng, lat), 4326).cast(Shop.location.type)


class ShopRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, shop: Shop) -> Shop:
        self.session.add(shop)
        await self.session.flush()
        return shop

    async def get_with_position(self, shop_id: uuid.UUID) -> tuple[Shop, float, float, str] | None:
        """The shop, its WGS-84 latitude and longitude, and its merchant's timezone."""
        geometry = cast(Shop.location, Geometry)
        stmt = (
            select(Shop, ST_Y(geometry), ST_X(geometry), Merchant.timezone)
            .join(Merchant, Merchant.id == Shop.merchant_id)
            .where(Shop.id == shop_id)
        )
        row = (await self.session.execute(stmt)).one_or_none()
        return (row[0], float(row[1]), float(row[2]), row[3]) if row else None

    async def ids_of_merchant(
        self, merchant_id: uuid.UUID, shop_ids: list[uuid.UUID]
    ) -> set[uuid.UUID]:
        stmt = select(Shop.id).where(Shop.merchant_id == merchant_id, Shop.id.in_(shop_ids))
        return set((await self.session.execute(stmt)).scalars())
