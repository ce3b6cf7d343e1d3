"""Shop rules. Other packages call these (never the repository) to check shops."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import InvalidInput, NotFound
from geo.schemas import LatLng
from merchants import schemas
from merchants.models import Shop
from merchants.repository import ShopRepository, point


class ShopNotFound(NotFound):
    code, title = "shop_not_found", "Shop not found"
    title_zh = "门店不存在"


def to_wgs84(location: LatLng, crs: str) -> LatLng:
    """Convert an incoming point to WGS-84 (GCJ-02/BD-09 support lands with geo/crs.py)."""
    if crs != "wgs84":
        raise InvalidInput(f"crs={crs} is not supported yet", loc=["body", "crs"])
    return location


async def create_shop(
    session: AsyncSession, *, merchant_id: uuid.UUID, data: schemas.ShopCreate
) -> schemas.Shop:
    position = to_wgs84(data.location, data.crs)
    shop = await ShopRepository(session).add(
        Shop(
            merchant_id=merchant_id,
            name=data.name.strip(),
            category=data.category,
            location=point(position.lat, position.lng),
            address=data.address.strip(),
            phone=data.phone,
            opening_hours=[p.model_dump() for p in data.opening_hours],
            discovery_only=data.discovery_only,
        )
    )
    return await get_shop(session, shop_id=shop.id)


async def get_shop(session: AsyncSession, *, shop_id: uuid.UUID) -> schemas.Shop:
    found = await ShopRepository(session).get_with_position(shop_id)
    if found is None:
        raise ShopNotFound()
    shop, lat, lng, timezone = found
    return schemas.Shop(
        id=shop.id,
        merchant_id=shop.merchant_id,
        name=shop.name,
        category=shop.category,
        location=LatLng(lat=lat, lng=lng),
        address=shop.address,
        phone=shop.phone,
        opening_hours=[schemas.OpeningPeriod(**p) for p in shop.opening_hours],
        discovery_only=shop.discovery_only,
        timezone=timezone,
        created_at=shop.created_at,
        updated_at=shop.updated_at,
    )


async def require_shop_of_merchant(
    session: AsyncSession, *, merchant_id: uuid.UUID, shop_id: uuid.UUID
) -> schemas.Shop:
    """The shop, if it belongs to the merchant; otherwise 404 (no existence leak)."""
    shop = await get_shop(session, shop_id=shop_id)
    if shop.merchant_id != merchant_id:
        raise ShopNotFound()
    return shop


async def foreign_shop_ids(
    session: AsyncSession, *, merchant_id: uuid.UUID, shop_ids: list[uuid.UUID]
) -> set[uuid.UUID]:
    """Those of `shop_ids` that are not the merchant's (empty when all are)."""
    owned = await ShopRepository(session).ids_of_merchant(merchant_id, shop_ids)
    return set(shop_ids) - owned
