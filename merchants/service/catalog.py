"""Photos and offerings of a shop."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from core import imaging
from core.i18n import localised
from core.ids import new_id
from core.money import Money
from core.pagination import decode_cursor_as, encode_cursor, page_from_rows, uuid_value
from merchants import schemas
from merchants.images import FORMATS, ImageRejected, ProcessedImage, process_image
from merchants.models import Offering, ShopPhoto
from merchants.repository.catalog import OfferingRepository, PhotoRepository
from merchants.service.errors import (
    InvalidImage,
    OfferingArchived,
    OfferingNotFound,
    PhotoNotFound,
    PhotoOrderInvalid,
    PriceNotPositive,
)

_EXTENSIONS = {content_type: ext for content_type, ext in FORMATS.values()}


def photo_path(media_root: Path, photo_id: uuid.UUID, content_type: str, thumbnail: bool) -> Path:
    suffix = "_thumb" if thumbnail else ""
    return media_root / "photos" / f"{photo_id}{suffix}.{_EXTENSIONS[content_type]}"


def photo_schema(photo: ShopPhoto) -> schemas.Photo:
    return schemas.Photo(
        id=photo.id,
        shop_id=photo.shop_id,
        kind=photo.kind,  # type: ignore[arg-type]
        content_type=photo.content_type,
        width=photo.width,
        height=photo.height,
        size_bytes=photo.size_bytes,
        url=f"/v1/photos/{photo.id}",
        thumbnail_url=f"/v1/photos/{photo.id}/thumbnail",
        position=photo.position,
        created_at=photo.created_at,
    )


def _write_files(media_root: Path, photo_id: uuid.UUID, image: ProcessedImage) -> None:
    for thumbnail, data in ((False, image.data), (True, image.thumbnail)):
        path = photo_path(media_root, photo_id, image.content_type, thumbnail)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)


async def add_photo(
    session: AsyncSession,
    *,
    media_root: Path,
    merchant_id: uuid.UUID,
    shop_id: uuid.UUID,
    kind: str,
    data: bytes,
) -> schemas.Photo:
    try:
        # decoding is CPU and memory work: off the event loop, a bounded number at a time
        image = await imaging.decode_in_pool(process_image, data)
    except ImageRejected as exc:
        why = exc.args[0]  # the localised text (str() would drop which language it is in)
        extra: dict[str, object] = {"errors": [{"loc": ["body", "file"], "msg": why}]}
        if exc.limit is not None:  # which of our budgets refused it
            extra["limit"] = exc.limit
        raise InvalidImage(why, extra=extra) from exc
    photo = await PhotoRepository(session).add(
        ShopPhoto(
            id=new_id(),
            merchant_id=merchant_id,
            shop_id=shop_id,
            kind=kind,
            content_type=image.content_type,
            width=image.width,
            height=image.height,
            size_bytes=len(image.data),
            position=await PhotoRepository(session).next_position(shop_id),
        )
    )
    # files after the row: a failed write rolls the row back; a failed commit leaves only
    # an unreferenced file behind
    await asyncio.to_thread(_write_files, media_root, photo.id, image)
    await session.refresh(photo)
    return photo_schema(photo)


async def list_photos(
    session: AsyncSession, *, shop_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[list[schemas.Photo], str | None]:
    """The shop's photos in its chosen order (position, then id)."""
    values = decode_cursor_as(cursor, {"p": int, "id": uuid_value})
    after = (values["p"], values["id"]) if values else None
    rows = await PhotoRepository(session).of_shop(shop_id, after, limit + 1)
    page, next_cursor = page_from_rows(rows, limit, lambda p: {"p": p.position, "id": str(p.id)})
    return [photo_schema(p) for p in page], next_cursor


async def merchant_of_photo(session: AsyncSession, *, photo_id: uuid.UUID) -> uuid.UUID:
    photo = await PhotoRepository(session).get(photo_id)
    if photo is None:
        raise PhotoNotFound()
    return photo.merchant_id


async def delete_photo(
    session: AsyncSession, *, merchant_id: uuid.UUID, photo_id: uuid.UUID
) -> ShopPhoto:
    """Remove a photo (offerings showing it lose their photo). The caller removes the files
    after the commit (`photo_path`), so a failed commit never leaves a row without its file."""
    photo = await PhotoRepository(session).get(photo_id)
    if photo is None or photo.merchant_id != merchant_id:
        raise PhotoNotFound()
    await PhotoRepository(session).delete(photo)
    return photo


async def reorder_photos(
    session: AsyncSession,
    *,
    merchant_id: uuid.UUID,
    shop_id: uuid.UUID,
    photo_ids: list[uuid.UUID],
) -> list[schemas.Photo]:
    """Put the named photos first, in that order; the others follow in their old order."""
    if len(set(photo_ids)) != len(photo_ids):
        raise PhotoOrderInvalid(
            localised("同一张照片出现了两次", "A photo is named twice"), loc=["body", "photo_ids"]
        )
    repo = PhotoRepository(session)
    current = await repo.all_of_shop(shop_id, lock=True)
    known = {p.id: p for p in current if p.merchant_id == merchant_id}
    if unknown := [str(i) for i in photo_ids if i not in known]:
        raise PhotoOrderInvalid(
            localised(
                f"这些不是本门店的照片：{'、'.join(unknown[:5])}",
                f"Not photos of this shop: {', '.join(unknown[:5])}",
            ),
            loc=["body", "photo_ids"],
        )
    named = set(photo_ids)
    ordered = [known[i] for i in photo_ids] + [p for p in current if p.id not in named]
    for position, photo in enumerate(ordered):
        photo.position = position
    await session.flush()
    return [photo_schema(p) for p in ordered]


async def photo_file(
    session: AsyncSession, *, media_root: Path, photo_id: uuid.UUID, thumbnail: bool
) -> tuple[Path, str]:
    photo = await PhotoRepository(session).get(photo_id)
    if photo is None:
        raise PhotoNotFound()
    path = photo_path(media_root, photo.id, photo.content_type, thumbnail)
    if not path.exists():
        raise PhotoNotFound()
    return path, photo.content_type


def _id_cursor(cursor: str | None) -> uuid.UUID | None:
    values = decode_cursor_as(cursor, {"id": uuid_value})
    return values["id"] if values else None


def offering_schema(offering: Offering) -> schemas.Offering:
    return schemas.Offering(
        id=offering.id,
        shop_id=offering.shop_id,
        merchant_id=offering.merchant_id,
        name=offering.name,
        description=offering.description,
        price=Money.of(offering.price_amount, offering.currency),
        photo_id=offering.photo_id,
        bookable=offering.bookable,
        active=offering.active,
        refund_policy=offering.refund_policy,  # type: ignore[arg-type]
        valid_days=offering.valid_days,
        created_at=offering.created_at,
        updated_at=offering.updated_at,
    )


def _check_price(price: Money) -> None:
    if price.amount <= 0:
        raise PriceNotPositive(
            localised("价格必须大于零", "The price must be more than zero"),
            loc=["body", "price", "amount"],
        )


async def _check_photo(
    session: AsyncSession, merchant_id: uuid.UUID, photo_id: uuid.UUID | None
) -> None:
    if photo_id is not None:
        photo = await PhotoRepository(session).get(photo_id)
        if photo is None or photo.merchant_id != merchant_id:
            raise PhotoNotFound(
                extra={"errors": [{"loc": ["body", "photo_id"], "msg": "unknown photo"}]}
            )


async def create_offering(
    session: AsyncSession,
    *,
    merchant_id: uuid.UUID,
    shop_id: uuid.UUID,
    data: schemas.OfferingCreate,
) -> schemas.Offering:
    _check_price(data.price)
    await _check_photo(session, merchant_id, data.photo_id)
    offering = await OfferingRepository(session).add(
        Offering(
            id=new_id(),
            merchant_id=merchant_id,
            shop_id=shop_id,
            name=data.name.strip(),
            description=data.description.strip(),
            price_amount=data.price.amount,
            currency=data.price.currency,
            photo_id=data.photo_id,
            bookable=data.bookable,
            refund_policy=data.refund_policy,
            valid_days=data.valid_days,
        )
    )
    await session.refresh(offering)
    return offering_schema(offering)


async def get_offering(session: AsyncSession, *, offering_id: uuid.UUID) -> schemas.Offering:
    """For orders and bookings: the offering (its shop and merchant included)."""
    offering = await OfferingRepository(session).get(offering_id)
    if offering is None:
        raise OfferingNotFound()
    return offering_schema(offering)


async def merchant_of_offering(session: AsyncSession, *, offering_id: uuid.UUID) -> uuid.UUID:
    offering = await OfferingRepository(session).get(offering_id)
    if offering is None:
        raise OfferingNotFound()
    return offering.merchant_id


async def update_offering(
    session: AsyncSession,
    *,
    merchant_id: uuid.UUID,
    offering_id: uuid.UUID,
    data: schemas.OfferingUpdate,
    now: datetime,
) -> schemas.Offering:
    """Change what a shop sells. Orders already placed keep the price they were sold at (the
    order row holds its own snapshot); the new price applies from now."""
    offering = await OfferingRepository(session).lock(offering_id, merchant_id)
    if offering is None:
        raise OfferingNotFound()
    if data.price is not None:
        _check_price(data.price)
        offering.price_amount, offering.currency = data.price.amount, data.price.currency
    if "photo_id" in data.model_fields_set:
        await _check_photo(session, merchant_id, data.photo_id)
        offering.photo_id = data.photo_id
    if data.name is not None:
        offering.name = data.name.strip()
    if data.description is not None:
        offering.description = data.description.strip()
    if data.bookable is not None:
        offering.bookable = data.bookable
    if data.refund_policy is not None:
        offering.refund_policy = data.refund_policy
    if "valid_days" in data.model_fields_set:
        offering.valid_days = data.valid_days
    if data.active is not None and data.active != offering.active:
        offering.active = data.active
        offering.archived_at = None if data.active else now
    offering.updated_at = now
    await session.flush()
    return offering_schema(offering)


async def archive_offering(
    session: AsyncSession, *, merchant_id: uuid.UUID, offering_id: uuid.UUID, now: datetime
) -> None:
    """DELETE: the offering leaves the menu and takes no new orders or bookings; orders,
    bookings and reviews that point at it stay readable. Archiving twice is a no-op."""
    offering = await OfferingRepository(session).lock(offering_id, merchant_id)
    if offering is None:
        raise OfferingNotFound()
    if offering.active:
        offering.active, offering.archived_at, offering.updated_at = False, now, now
        await session.flush()


async def get_sellable_offering(
    session: AsyncSession, *, offering_id: uuid.UUID
) -> schemas.Offering:
    """For new orders and bookings: the offering, refused once archived."""
    offering = await get_offering(session, offering_id=offering_id)
    if not offering.active:
        raise OfferingArchived()
    return offering


async def list_offerings(
    session: AsyncSession,
    *,
    shop_id: uuid.UUID,
    limit: int,
    cursor: str | None,
    include_archived: bool = False,
) -> tuple[list[schemas.Offering], str | None]:
    after = _id_cursor(cursor)
    rows = await OfferingRepository(session).of_shop(shop_id, after, limit + 1, include_archived)
    items = [offering_schema(o) for o in rows[:limit]]
    return items, (encode_cursor({"id": str(rows[limit - 1].id)}) if len(rows) > limit else None)


async def offering_labels(
    session: AsyncSession, *, offering_ids: list[uuid.UUID]
) -> dict[uuid.UUID, tuple[str, str]]:
    """Offering id -> (name, its merchant's timezone), for lists that span merchants."""
    rows = await OfferingRepository(session).labels(list(set(offering_ids)))
    return {i: (name, tz) for i, name, tz in rows}
