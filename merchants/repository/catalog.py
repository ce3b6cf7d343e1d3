"""Queries for photos and offerings."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select, tuple_
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
        self, shop_id: uuid.UUID, after: tuple[int, uuid.UUID] | None, limit: int
    ) -> list[ShopPhoto]:
        stmt = select(ShopPhoto).where(ShopPhoto.shop_id == shop_id)
        if after is not None:
            stmt = stmt.where(tuple_(ShopPhoto.position, ShopPhoto.id) > tuple_(*after))
        stmt = stmt.order_by(ShopPhoto.position, ShopPhoto.id).limit(limit)
        return list((await self.session.execute(stmt)).scalars())

    async def all_of_shop(self, shop_id: uuid.UUID, *, lock: bool = False) -> list[ShopPhoto]:
        """Every photo of the shop in its order; `lock` holds them for a reorder, so two
        concurrent reorders apply one after the other instead of interleaving positions."""
        stmt = (
            select(ShopPhoto)
            .where(ShopPhoto.shop_id == shop_id)
            .order_by(ShopPhoto.position, ShopPhoto.id)
        )
        if lock:
            stmt = stmt.with_for_update()
        return list((await self.session.execute(stmt)).scalars())

    async def next_position(self, shop_id: uuid.UUID) -> int:
        stmt = select(func.coalesce(func.max(ShopPhoto.position) + 1, 0)).where(
            ShopPhoto.shop_id == shop_id
        )
        return int((await self.session.execute(stmt)).scalar_one())

    async def delete(self, photo: ShopPhoto) -> None:
        await self.session.delete(photo)
        await self.session.flush()


class OfferingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, offering: Offering) -> Offering:
        self.session.add(offering)
        await self.session.flush()
        return offering

    async def get(self, offering_id: uuid.UUID) -> Offering | None:
        return await self.session.get(Offering, offering_id)

    async def lock(self, offering_id: uuid.UUID, merchant_id: uuid.UUID) -> Offering | None:
        stmt = (
            select(Offering)
            .where(Offering.id == offering_id, Offering.merchant_id == merchant_id)
            .with_for_update()
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def of_shop(
        self,
        shop_id: uuid.UUID,
        after: uuid.UUID | None,
        limit: int,
        include_archived: bool = False,
    ) -> list[Offering]:
        stmt = select(Offering).where(Offering.shop_id == shop_id)
        if not include_archived:
            stmt = stmt.where(Offering.active)
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
