"""Queries for photos and offerings."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.models import Merchant
from merchants.models import Offering, ShopPhoto


class PhotoRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, photo: ShopPhoto) -> ShopPhoto:
        self.session.add(photo)
        await self.session.flush()
        return photo

    async def get(self, photo_id: uuid.UUID) -> ShopPhoto | None:
        return await self.session.get(ShopPhoto, photo_id)

    async def of_shop(
        self, shop_id: uuid.UUID, after: uuid.UUID | None, limit: int
    ) -> list[ShopPhoto]:
        stmt = select(ShopPhoto).where(ShopPhoto.shop_id == shop_id)
        if after is not None:
            stmt = stmt.where(ShopPhoto.id > after)
        stmt = stmt.order_by(ShopPhoto.id).limit(limit)
        return list((await self.session.execute(stmt)).scalars())


class OfferingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, offering: Offering) -> Offering:
        self.session.add(offering)
        await self.session.flush()
        return offering

    async def get(self, offering_id: uuid.UUID) -> Offering | None:
        return await self.session.get(Offering, offering_id)

    async def of_shop(
        self, shop_id: uuid.UUID, after: uuid.UUID | None, limit: int
    ) -> list[Offering]:
        stmt = select(Offering).where(Offering.shop_id == shop_id)
        if after is not None:
            stmt = stmt.where(Offering.id > after)
        stmt = stmt.order_by(Offering.id).limit(limit)
        return list((await self.session.execute(stmt)).scalars())

    async def labels(self, offering_ids: list[uuid.UUID]) -> list[tuple[uuid.UUID, str, str]]:
        """(id, name, merchant's timezone) of each offering, archived ones too, in one query."""
        if not offering_ids:
            return []
        stmt = (
            select(Offering.id, Offering.name, Merchant.timezone)
            .join(Merchant, Merchant.id == Offering.merchant_id)
            .where(Offering.id.in_(offering_ids))
        )
        return [(i, n, tz) for i, n, tz in (await self.session.execute(stmt)).all()]
