"""Photos and offerings of a shop."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from core.ids import new_id
from core.money import Money
from core.pagination import decode_cursor_as, encode_cursor, uuid_value
from merchants import schemas
from merchants.images import FORMATS, ImageRejected, ProcessedImage, process_image
from merchants.models import Offering, ShopPhoto
from merchants.repository.catalog import OfferingRepository, PhotoRepository
from merchants.service.errors import InvalidImage, OfferingNotFound, PhotoNotFound

_EXTENSIONS = {content_type: ext for content_type, ext in FORMATS.values()}


def photo_path(media_root: Path, photo_id: uuid.UUID, content_type: str, thumbnail: bool) -> Path:
    suffix = "_thumb" if thumbnail else ""
    return media_root / "photos" / f"{photo_id}{suffix}.{_EXTENSIONS[content_type]}"


def _photo_schema(photo: ShopPhoto) -> schemas.Photo:
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
        # decoding is CPU work: keep it off the event loop
        image = await asyncio.to_thread(process_image, data)
    except ImageRejected as exc:
        raise InvalidImage(
            str(exc), extra={"errors": [{"loc": ["body", "file"], "msg": str(exc)}]}
        ) from exc
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
        )
    )
    # files after the row: a failed write rolls the row back; a failed commit leaves only
    # an unreferenced file behind
    await asyncio.to_thread(_write_files, media_root, photo.id, image)
    await session.refresh(photo)
    return _photo_schema(photo)


async def list_photos(
    session: AsyncSession, *, shop_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[list[schemas.Photo], str | None]:
    after = _id_cursor(cursor)
    rows = await PhotoRepository(session).of_shop(shop_id, after, limit + 1)
    items = [_photo_schema(p) for p in rows[:limit]]
    return items, (encode_cursor({"id": str(rows[limit - 1].id)}) if len(rows) > limit else None)


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


def _offering_schema(offering: Offering) -> schemas.Offering:
    return schemas.Offering(
        id=offering.id,
        shop_id=offering.shop_id,
        merchant_id=offering.merchant_id,
        name=offering.name,
        description=offering.description,
        price=Money.of(offering.price_amount, offering.currency),
        photo_id=offering.photo_id,
        bookable=offering.bookable,
        created_at=offering.created_at,
        updated_at=offering.updated_at,
    )


async def create_offering(
    session: AsyncSession,
    *,
    merchant_id: uuid.UUID,
    shop_id: uuid.UUID,
    data: schemas.OfferingCreate,
) -> schemas.Offering:
    if data.photo_id is not None:
        photo = await PhotoRepository(session).get(data.photo_id)
        if photo is None or photo.merchant_id != merchant_id:
            raise PhotoNotFound(
                extra={"errors": [{"loc": ["body", "photo_id"], "msg": "unknown photo"}]}
            )
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
        )
    )
    await session.refresh(offering)
    return _offering_schema(offering)


async def get_offering(session: AsyncSession, *, offering_id: uuid.UUID) -> schemas.Offering:
    """For orders and bookings: the offering (its shop and merchant included)."""
    offering = await OfferingRepository(session).get(offering_id)
    if offering is None:
        raise OfferingNotFound()
    return _offering_schema(offering)


async def offering_merchant(session: AsyncSession, *, offering_id: uuid.UUID) -> uuid.UUID:
    """The merchant an offering belongs to (OfferingNotFound when there is none)."""
    return (await get_offering(session, offering_id=offering_id)).merchant_id


async def list_offerings(
    session: AsyncSession, *, shop_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[list[schemas.Offering], str | None]:
    after = _id_cursor(cursor)
    rows = await OfferingRepository(session).of_shop(shop_id, after, limit + 1)
    items = [_offering_schema(o) for o in rows[:limit]]
    return items, (encode_cursor({"id": str(rows[limit - 1].id)}) if len(rows) > limit else None)
