"""Shop rules. Other packages call these (never the repository) to check shops.

Nearby discovery, photos, offerings and reviews live beside this module and are re-exported
here, so `from merchants import service` reaches every rule of the package.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from core.i18n import localised
from core.pagination import decode_cursor_as, page_from_rows, uuid_value
from core.timezones import utcnow
from geo.schemas import Crs, LatLng
from merchants import schemas
from merchants.models import Shop
from merchants.opening import periods_on, special_overlaps
from merchants.repository import (
    ShopRepository,
    ShopRow,
    point,
    rating_of,
    shop_of_merchant_expression,
)
from merchants.service.errors import DiscoveryOnlyShop, ShopNotFound


async def create_shop(
    session: AsyncSession, *, merchant_id: uuid.UUID, data: schemas.ShopCreate
) -> schemas.Shop:
    position = data.location.to_wgs84(data.crs)
    shop = await ShopRepository(session).add(
        Shop(
            merchant_id=merchant_id,
            name=data.name.strip(),
            category=data.category,
            location=point(position.lat, position.lng),
            address=data.address.strip(),
            phone=data.phone,
            opening_hours=[p.model_dump() for p in data.opening_hours],
            special_hours=checked_special_hours(data.special_hours),
            discovery_only=data.discovery_only,
            description=data.description.strip(),
            features=data.features,
        )
    )
    return await get_shop(session, shop_id=shop.id, crs=data.crs)


def shop_schema(row: ShopRow, crs: Crs) -> schemas.Shop:
    shop = row.shop
    return schemas.Shop(
        id=shop.id,
        merchant_id=shop.merchant_id,
        name=shop.name,
        category=shop.category,
        location=LatLng.from_wgs84(row.lat, row.lng, crs),
        address=shop.address,
        phone=shop.phone,
        description=shop.description,
        features=list(shop.features),
        opening_hours=[schemas.OpeningPeriod(**p) for p in shop.opening_hours],
        special_hours=[schemas.SpecialHours(**e) for e in shop.special_hours],
        discovery_only=shop.discovery_only,
        timezone=row.timezone,
        open_now=row.open_now,
        rating=rating_of(shop.review_count, shop.rating),
        review_count=shop.review_count,
        created_at=shop.created_at,
        updated_at=shop.updated_at,
    )


def checked_special_hours(entries: list[schemas.SpecialHours]) -> list[dict[str, Any]]:
    """Special hours as stored (sorted by date), refused when two entries contradict."""
    stored = sorted(
        (e.model_dump(mode="json") for e in entries), key=lambda e: (e["date"], e["open"] or "")
    )
    clash = special_overlaps(stored)
    if clash is not None:
        first, second = stored[clash[0]], stored[clash[1]]
        raise SpecialHoursOverlap(
            localised(
                f"{first['date']} 与 {second['date']} 的特殊营业时间重叠",
                f"The special hours of {first['date']} and {second['date']} overlap",
            ),
            loc=["body", "special_hours"],
        )
    return stored


async def get_shop(
    session: AsyncSession,
    *,
    shop_id: uuid.UUID,
    crs: Crs = "wgs84",
    at: datetime | None = None,
) -> schemas.Shop:
    """A shop that is not deleted, with its location in `crs` and `open_now` at `at`."""
    row = await ShopRepository(session).get_with_position(shop_id, at or utcnow())
    if row is None:
        raise ShopNotFound()
    return shop_schema(row, crs)


async def list_merchant_shops(
    session: AsyncSession,
    *,
    merchant_id: uuid.UUID,
    limit: int,
    cursor: str | None,
    crs: Crs = "wgs84",
) -> tuple[list[schemas.Shop], str | None]:
    """The merchant's shops by name (staff pick the counter's shop from this)."""
    values = decode_cursor_as(cursor, {"name": str, "id": uuid_value})
    after = (values["name"], values["id"]) if values else None
    rows = await ShopRepository(session).page_of_merchant(merchant_id, utcnow(), after, limit)
    page, next_cursor = page_from_rows(
        rows, limit, lambda r: {"name": r.shop.name, "id": str(r.shop.id)}
    )
    return [shop_schema(r, crs) for r in page], next_cursor


async def merchant_of_shop(session: AsyncSession, *, shop_id: uuid.UUID) -> uuid.UUID:
    merchant_id = await ShopRepository(session).merchant_of(shop_id)
    if merchant_id is None:
        raise ShopNotFound()
    return merchant_id


async def update_shop(
    session: AsyncSession,
    *,
    merchant_id: uuid.UUID,
    shop_id: uuid.UUID,
    data: schemas.ShopUpdate,
) -> schemas.Shop:
    shop = await ShopRepository(session).lock(shop_id, merchant_id)
    if shop is None:
        raise ShopNotFound()
    changes = data.model_dump(
        exclude_unset=True, exclude={"crs", "location", "opening_hours", "special_hours"}
    )
    for field, value in changes.items():
        setattr(shop, field, value.strip() if isinstance(value, str) else value)
    if data.location is not None:
        position = data.location.to_wgs84(data.crs)
        shop.location = point(position.lat, position.lng)
    if data.opening_hours is not None:
        shop.opening_hours = [p.model_dump() for p in data.opening_hours]
    if data.special_hours is not None:
        shop.special_hours = checked_special_hours(data.special_hours)
    shop.updated_at = utcnow()
    await session.flush()
    return await get_shop(session, shop_id=shop_id, crs=data.crs)


async def delete_shop(session: AsyncSession, *, merchant_id: uuid.UUID, shop_id: uuid.UUID) -> None:
    """Close a shop: it disappears from reads and search; history keeps pointing at it."""
    if not await ShopRepository(session).soft_delete(shop_id, merchant_id, utcnow()):
        raise ShopNotFound()


async def shop_names_of_merchant(session: AsyncSession, *, merchant_id: uuid.UUID) -> set[str]:
    return await ShopRepository(session).names_of_merchant(merchant_id)


async def require_shop_of_merchant(
    session: AsyncSession, *, merchant_id: uuid.UUID, shop_id: uuid.UUID
) -> schemas.Shop:
    """The shop, if it belongs to the merchant; otherwise 404 (no existence leak)."""
    shop = await get_shop(session, shop_id=shop_id)
    if shop.merchant_id != merchant_id:
        raise ShopNotFound()
    return shop


async def require_selling_shop(
    session: AsyncSession, *, merchant_id: uuid.UUID, shop_id: uuid.UUID
) -> schemas.Shop:
    """As `require_shop_of_merchant`, and refuses discovery-only places (banks, clinics…)."""
    shop = await require_shop_of_merchant(session, merchant_id=merchant_id, shop_id=shop_id)
    if shop.discovery_only:
        raise DiscoveryOnlyShop()
    return shop


async def foreign_shop_ids(
    session: AsyncSession, *, merchant_id: uuid.UUID, shop_ids: list[uuid.UUID]
) -> set[uuid.UUID]:
    """Those of `shop_ids` that are not the merchant's (empty when all are)."""
    owned = await ShopRepository(session).ids_of_merchant(merchant_id, shop_ids)
    return set(shop_ids) - owned


def shop_of_merchant_sql(merchant_id: ColumnElement[Any], shop_id: Any) -> ColumnElement[bool]:
    """`not foreign_shop_ids(...)` for one shop as a SQL expression over another package's
    merchant id column, for hot paths (the counter) that fold the check into their lookup."""
    return shop_of_merchant_expression(merchant_id, shop_id)


# the package's other rooms, reachable as merchants.service.<name>
from merchants.service.catalog import (  # noqa: E402
    InvalidImage,
    OfferingNotFound,
    PhotoNotFound,
    add_photo,
    archive_offering,
    create_offering,
    delete_photo,
    get_offering,
    get_sellable_offering,
    list_offerings,
    list_photos,
    merchant_of_offering,
    merchant_of_photo,
    offering_labels,
    photo_file,
    photo_path,
    reorder_photos,
    update_offering,
)
from merchants.service.errors import (  # noqa: E402
    OfferingArchived,
    PhotoOrderInvalid,
    PriceNotPositive,
    SpecialHoursOverlap,
)
from merchants.service.nearby import (  # noqa: E402
    NearbyQuery,
    find_nearby,
    register_best_offer,
    register_offer_predicate,
)
from merchants.service.page import shop_page_parts  # noqa: E402
from merchants.service.personal_data import export_personal_data  # noqa: E402
from merchants.service.reviews import (  # noqa: E402
    ReviewExists,
    ReviewNotFound,
    create_review,
    list_reviews,
    merchant_of_review,
    register_consumption_verifier,
    reply_to_review,
)

__all__ = [
    "export_personal_data",
    "register_best_offer",
    "OfferingArchived",
    "PhotoOrderInvalid",
    "PriceNotPositive",
    "SpecialHoursOverlap",
    "archive_offering",
    "checked_special_hours",
    "delete_photo",
    "get_sellable_offering",
    "merchant_of_offering",
    "merchant_of_photo",
    "periods_on",
    "photo_path",
    "reorder_photos",
    "update_offering",
    "shop_page_parts",
    "offering_labels",
    "list_merchant_shops",
    "register_consumption_verifier",
    "DiscoveryOnlyShop",
    "InvalidImage",
    "NearbyQuery",
    "OfferingNotFound",
    "PhotoNotFound",
    "ReviewExists",
    "ReviewNotFound",
    "ShopNotFound",
    "add_photo",
    "create_offering",
    "create_review",
    "create_shop",
    "delete_shop",
    "find_nearby",
    "foreign_shop_ids",
    "get_offering",
    "get_shop",
    "list_offerings",
    "list_photos",
    "list_reviews",
    "merchant_of_review",
    "merchant_of_shop",
    "photo_file",
    "register_offer_predicate",
    "reply_to_review",
    "require_selling_shop",
    "require_shop_of_merchant",
    "shop_names_of_merchant",
    "update_shop",
]
