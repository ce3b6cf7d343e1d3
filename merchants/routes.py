from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated

import orjson
from fastapi import APIRouter, BackgroundTasks, File, Form, Query, Request, UploadFile, status
from fastapi.responses import FileResponse, Response

from accounts.permissions import AnyStaff, CurrentUser, ManagerStaff
from core.database import ReadSessionDep, SessionDep
from core.discovery import discovery_reads
from core.errors import InvalidInput
from core.i18n import current_language, localised
from core.pagination import CursorQuery, LimitQuery, Page
from core.query import DirectRoute, query_parameters, validate_query
from core.settings import SettingsDep
from core.timezones import utcnow
from geo.schemas import Crs
from merchants import categories, schemas, service
from merchants.auth import OfferingManager, PhotoManager, ReviewManager, ShopManager
from merchants.images import MAX_UPLOAD_BYTES

router = APIRouter(prefix="/v1", tags=["shops"])

CrsQuery = Annotated[Crs, Query(description="Coordinate system of `location` in and out")]


def _category_node(node: categories.Category, parent: str | None) -> schemas.CategoryNode:
    language = current_language.get()
    return schemas.CategoryNode(
        code=node.code,
        name=node.en if language == "en" else node.zh,
        labels={"zh-CN": node.zh, "en": node.en},
        parent=parent,
        children=[_category_node(child, node.code) for child in node.children],
    )


@router.get("/categories", response_model=list[schemas.CategoryNode], tags=["discovery"])
async def list_categories() -> list[schemas.CategoryNode]:
    """The category tree; filtering by a code includes its subcategories."""
    return [_category_node(node, None) for node in categories.TREE]


async def nearby_shops(request: Request) -> Response:
    """Shops within `radius_m` geodesic metres, exactly ordered; keyset pages."""
    query = validate_query(schemas.NearbyQuery, request)
    if query.category is not None and not categories.is_known(query.category):
        raise InvalidInput(
            localised("没有这个分类", "There is no such category"), loc=["query", "category"]
        )
    discovery = discovery_reads(request)
    items, next_cursor = await discovery.read(service.find_nearby, query=query, at=utcnow())
    # plain dicts straight to orjson: this is the hottest read of the API
    return Response(
        orjson.dumps({"items": items, "next_cursor": next_cursor}), media_type="application/json"
    )


def add_direct_routes(app_router: APIRouter) -> None:
    """Nearby, the hottest read, as a DirectRoute (core.query) on the app's own router, ahead
    of the package routers: FastAPI matches it first and once, where a route of an included
    router is matched twice (to select its router, then to dispatch)."""
    app_router.add_api_route(
        "/v1/shops/nearby",
        nearby_shops,
        methods=["GET"],
        route_class_override=DirectRoute,
        response_model=schemas.NearbyPage,
        tags=["discovery"],
        openapi_extra=query_parameters(schemas.NearbyQuery),
    )


@router.post(
    "/merchants/{merchant_id}/shops",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.Shop,
)
async def create_shop(
    merchant_id: uuid.UUID, data: schemas.ShopCreate, staff: ManagerStaff, session: SessionDep
) -> schemas.Shop:
    return await service.create_shop(session, merchant_id=staff.merchant_id, data=data)


@router.get("/merchants/{merchant_id}/shops", response_model=Page[schemas.Shop])
async def list_merchant_shops(
    merchant_id: uuid.UUID,
    staff: AnyStaff,
    session: SessionDep,
    crs: Crs = "wgs84",
    limit: LimitQuery = 20,
    cursor: CursorQuery = None,
) -> Page[schemas.Shop]:
    """The merchant's shops (staff), by name."""
    items, next_cursor = await service.list_merchant_shops(
        session, merchant_id=staff.merchant_id, limit=limit, cursor=cursor, crs=crs
    )
    return Page(items=items, next_cursor=next_cursor)


@router.get("/shops/{shop_id}", response_model=schemas.Shop)
async def get_shop(
    shop_id: uuid.UUID, session: ReadSessionDep, crs: CrsQuery = "wgs84"
) -> schemas.Shop:
    return await service.get_shop(session, shop_id=shop_id, crs=crs)


@router.patch("/shops/{shop_id}", response_model=schemas.Shop)
async def update_shop(
    shop_id: uuid.UUID, data: schemas.ShopUpdate, staff: ShopManager, session: SessionDep
) -> schemas.Shop:
    """Managers change a shop; `location` (in `crs`) moves it."""
    return await service.update_shop(
        session, merchant_id=staff.merchant_id, shop_id=shop_id, data=data
    )


@router.delete("/shops/{shop_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_shop(shop_id: uuid.UUID, staff: ShopManager, session: SessionDep) -> Response:
    await service.delete_shop(session, merchant_id=staff.merchant_id, shop_id=shop_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/shops/{shop_id}/photos",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.Photo,
    tags=["photos"],
)
async def upload_photo(
    shop_id: uuid.UUID,
    staff: ShopManager,
    session: SessionDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="JPEG, PNG or WebP, at most 10 MB")],
    kind: Annotated[schemas.PhotoKind, Form()] = "storefront",
) -> schemas.Photo:
    data = await file.read(MAX_UPLOAD_BYTES + 1)
    return await service.add_photo(
        session,
        media_root=settings.media_root,
        merchant_id=staff.merchant_id,
        shop_id=shop_id,
        kind=kind,
        data=data,
    )


@router.get("/shops/{shop_id}/photos", response_model=Page[schemas.Photo], tags=["photos"])
async def list_photos(
    shop_id: uuid.UUID, session: ReadSessionDep, limit: LimitQuery = 20, cursor: CursorQuery = None
) -> Page[schemas.Photo]:
    await service.get_shop(session, shop_id=shop_id)
    items, next_cursor = await service.list_photos(
        session, shop_id=shop_id, limit=limit, cursor=cursor
    )
    return Page(items=items, next_cursor=next_cursor)


@router.put("/shops/{shop_id}/photos/order", response_model=list[schemas.Photo], tags=["photos"])
async def reorder_photos(
    shop_id: uuid.UUID, data: schemas.PhotoOrder, staff: ShopManager, session: SessionDep
) -> list[schemas.Photo]:
    """Show the named photos first, in this order; the rest follow in their old order."""
    return await service.reorder_photos(
        session, merchant_id=staff.merchant_id, shop_id=shop_id, photo_ids=data.photo_ids
    )


def _remove_photo_files(media_root: Path, photo_id: uuid.UUID, content_type: str) -> None:
    for thumbnail in (False, True):
        service.photo_path(media_root, photo_id, content_type, thumbnail).unlink(missing_ok=True)


@router.delete("/photos/{photo_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["photos"])
async def delete_photo(
    photo_id: uuid.UUID,
    staff: PhotoManager,
    session: SessionDep,
    settings: SettingsDep,
    background: BackgroundTasks,
) -> Response:
    """Remove a photo; offerings that showed it keep no photo."""
    photo = await service.delete_photo(session, merchant_id=staff.merchant_id, photo_id=photo_id)
    # the session commits before the response; the files go after it (a background task
    # runs after the response), so a failed commit never leaves a row without its file
    background.add_task(_remove_photo_files, settings.media_root, photo.id, photo.content_type)
    return Response(status_code=status.HTTP_204_NO_CONTENT, background=background)


async def _serve_photo(
    photo_id: uuid.UUID, session: SessionDep, settings: SettingsDep, thumbnail: bool
) -> FileResponse:
    path, content_type = await service.photo_file(
        session, media_root=settings.media_root, photo_id=photo_id, thumbnail=thumbnail
    )
    # the bytes of a photo id never change: cache hard
    return FileResponse(
        path, media_type=content_type, headers={"Cache-Control": "public, max-age=31536000"}
    )


@router.get("/photos/{photo_id}", response_class=FileResponse, tags=["photos"])
async def get_photo(
    photo_id: uuid.UUID, session: SessionDep, settings: SettingsDep
) -> FileResponse:
    return await _serve_photo(photo_id, session, settings, thumbnail=False)


@router.get("/photos/{photo_id}/thumbnail", response_class=FileResponse, tags=["photos"])
async def get_photo_thumbnail(
    photo_id: uuid.UUID, session: SessionDep, settings: SettingsDep
) -> FileResponse:
    return await _serve_photo(photo_id, session, settings, thumbnail=True)


@router.post(
    "/shops/{shop_id}/offerings",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.Offering,
    tags=["offerings"],
)
async def create_offering(
    shop_id: uuid.UUID, data: schemas.OfferingCreate, staff: ShopManager, session: SessionDep
) -> schemas.Offering:
    return await service.create_offering(
        session, merchant_id=staff.merchant_id, shop_id=shop_id, data=data
    )


@router.get("/shops/{shop_id}/offerings", response_model=Page[schemas.Offering], tags=["offerings"])
async def list_offerings(
    shop_id: uuid.UUID,
    session: ReadSessionDep,
    limit: LimitQuery = 20,
    cursor: CursorQuery = None,
    include_archived: Annotated[
        bool, Query(description="Archived offerings too (for the catalogue page)")
    ] = False,
) -> Page[schemas.Offering]:
    await service.get_shop(session, shop_id=shop_id)
    items, next_cursor = await service.list_offerings(
        session,
        shop_id=shop_id,
        limit=limit,
        cursor=cursor,
        include_archived=include_archived,
    )
    return Page(items=items, next_cursor=next_cursor)


@router.patch("/offerings/{offering_id}", response_model=schemas.Offering, tags=["offerings"])
async def update_offering(
    offering_id: uuid.UUID,
    data: schemas.OfferingUpdate,
    staff: OfferingManager,
    session: SessionDep,
) -> schemas.Offering:
    """Change name, description, price, photo, `bookable` or `active`; orders already placed
    keep the price they were sold at."""
    return await service.update_offering(
        session, merchant_id=staff.merchant_id, offering_id=offering_id, data=data, now=utcnow()
    )


@router.delete(
    "/offerings/{offering_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["offerings"]
)
async def archive_offering(
    offering_id: uuid.UUID, staff: OfferingManager, session: SessionDep
) -> Response:
    """Archive: off the menu, no new orders or bookings; past orders keep their snapshot."""
    await service.archive_offering(
        session, merchant_id=staff.merchant_id, offering_id=offering_id, now=utcnow()
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/shops/{shop_id}/reviews",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.Review,
    tags=["reviews"],
)
async def create_review(
    shop_id: uuid.UUID, data: schemas.ReviewCreate, principal: CurrentUser, session: SessionDep
) -> schemas.Review:
    shop = await service.get_shop(session, shop_id=shop_id)
    return await service.create_review(
        session,
        user_id=principal.user_id,
        merchant_id=shop.merchant_id,
        shop_id=shop_id,
        data=data,
        at=utcnow(),
    )


@router.get("/shops/{shop_id}/reviews", response_model=schemas.ReviewPage, tags=["reviews"])
async def list_reviews(
    shop_id: uuid.UUID,
    session: ReadSessionDep,
    verified: Annotated[bool | None, Query(description="Only verified (or only general)")] = None,
    limit: LimitQuery = 20,
    cursor: CursorQuery = None,
) -> schemas.ReviewPage:
    await service.get_shop(session, shop_id=shop_id)
    return await service.list_reviews(
        session, shop_id=shop_id, verified=verified, limit=limit, cursor=cursor
    )


@router.put("/reviews/{review_id}/reply", response_model=schemas.Review, tags=["reviews"])
async def reply_to_review(
    review_id: uuid.UUID, data: schemas.ReviewReply, staff: ReviewManager, session: SessionDep
) -> schemas.Review:
    """The merchant's public answer (managers and owners); replacing it is allowed."""
    return await service.reply_to_review(
        session,
        merchant_id=staff.merchant_id,
        review_id=review_id,
        staff_user_id=staff.user_id,
        text=data.text,
        at=utcnow(),
    )
