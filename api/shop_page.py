"""`GET /v1/shops/{shop_id}/page`: a shop's screen in the consumer app, in one call.

Each package contributes its part through its service (merchants: the shop, photos, offerings,
reviews, other shops; orders: the next free slots of bookable offerings; coupons: the
campaigns claimable now; memberships: programmes and the caller's cards), so the page lives
here, above them all. Every part is a fixed number of statements whatever the counts (no
statement per offering, campaign or programme): 4 + 1 + 1 + 3 for an anonymous caller, and 2
more for a signed-in one with cards (cards with their spend and number, passes), as
tests/api/test_shop_page.py counts.

The page is one of the hottest reads of the consumer app, so it is a `DirectRoute` on the
app's own router (core.query: no dependency solving, matched once) and its statements are Core
statements compiled once and run on a psycopg connection of the discovery pools (the replica
when one is configured, else the primary; core.discovery), rows as tuples, instead of ORM
sessions. Each statement reads committed data on its own, as the read session's statements
did (read committed); the answer is built into the response models and sent with orjson. A
discovery-only place shows no offers, cards or slots.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from starlette.responses import Response

from accounts.permissions import OptionalUser, optional_request_principal
from core.discovery import discovery_reads
from core.lean import Connection, read_path
from core.query import DirectRoute, validate_query
from core.settings import Settings
from core.timezones import utcnow
from coupons import schemas as coupon_schemas
from coupons import service as coupons
from geo.schemas import Crs
from memberships import schemas as membership_schemas
from memberships import service as memberships
from merchants import schemas as merchant_schemas
from merchants import service as merchants
from orders import schemas as order_schemas
from orders import service as orders

PATH = "/v1/shops/{shop_id}/page"
CRS_DESCRIPTION = "Coordinate system of locations"


class ShopPageOffering(merchant_schemas.Offering):
    next_slots: list[order_schemas.Slot] = Field(
        description="The next free slots of a bookable offering (empty otherwise)"
    )


class ShopPage(BaseModel):
    shop: merchant_schemas.ShopDetail
    offerings: list[ShopPageOffering]
    campaigns: list[coupon_schemas.ShopCampaign] = Field(description="Claimable now")
    programs: list[membership_schemas.ShopProgram]
    reviews: list[merchant_schemas.Review] = Field(description="Latest, verified first")
    other_shops: list[merchant_schemas.Shop] = Field(description="The merchant's other shops")


class _PageQuery(BaseModel):
    crs: Crs = "wgs84"


async def shop_page(
    shop_id: uuid.UUID,
    principal: OptionalUser,
    crs: Annotated[Crs, Query(description=CRS_DESCRIPTION)] = "wgs84",
) -> ShopPage:
    """Everything a shop's screen shows. Signed in, campaigns carry `per_user_left` and
    `held` and programmes `my_card`; anonymous callers get the same page without them."""
    raise RuntimeError("documentation only: serve_shop_page answers")  # pragma: no cover


async def serve_shop_page(request: Request) -> Response:
    # as FastAPI solves the route: the optional bearer first (a bad token is a 401), then
    # the path and query parameters, every error of both in one 422
    principal = await optional_request_principal(request)
    errors: list[Any] = []
    shop_id: uuid.UUID | None = None
    crs: Crs = "wgs84"
    try:
        shop_id = read_path(request, "shop_id", uuid.UUID)
    except RequestValidationError as exc:
        errors += exc.errors()
    try:
        crs = validate_query(_PageQuery, request).crs
    except RequestValidationError as exc:
        errors += exc.errors()
    if errors or shop_id is None:
        raise RequestValidationError(errors)
    page = await discovery_reads(request).read(
        read_page,
        settings=request.app.state.settings,
        shop_id=shop_id,
        crs=crs,
        user_id=principal.user_id if principal is not None else None,
        now=utcnow(),
    )
    # the response model's JSON by alias, as FastAPI sends it, serialised in one pass
    return Response(page.model_dump_json(by_alias=True), media_type="application/json")


async def read_page(
    connection: Connection,
    *,
    settings: Settings,
    shop_id: uuid.UUID,
    crs: Crs,
    user_id: uuid.UUID | None,
    now: datetime,
) -> ShopPage:
    parts = await merchants.shop_page_parts(connection, shop_id=shop_id, crs=crs, now=now)
    shop = parts.shop
    selling = not shop.discovery_only
    bookable = [o.id for o in parts.offerings if o.bookable] if selling else []
    slots = await orders.next_free_slots(
        connection, settings=settings, shop=shop, offering_ids=bookable, now=now
    )
    campaigns = (
        await coupons.claimable_at_shop(
            connection, shop_id=shop.id, merchant_id=shop.merchant_id, user_id=user_id, now=now
        )
        if selling
        else []
    )
    programs = (
        await memberships.programs_for_shop_page(
            connection, merchant_id=shop.merchant_id, user_id=user_id, now=now
        )
        if selling
        else []
    )
    # every part is a validated model already: the page assembles them (model_construct)
    # instead of validating them all a second time
    return ShopPage.model_construct(
        shop=shop,
        offerings=[
            ShopPageOffering.model_construct(**o.__dict__, next_slots=slots.get(o.id, []))
            for o in (parts.offerings if selling else [])
        ],
        campaigns=campaigns,
        programs=programs,
        reviews=parts.reviews,
        other_shops=parts.other_shops,
    )


def add_shop_page_route(app_router: APIRouter) -> None:
    """The page as a DirectRoute on the app's own router (matched once, before the package
    routers), documented from `shop_page`'s signature as the FastAPI route it replaced."""
    app_router.routes.append(
        DirectRoute(
            PATH,
            shop_page,
            serve=serve_shop_page,
            methods=["GET"],
            response_model=ShopPage,
            operation_id="shops_page",
            tags=["shops"],
        )
    )
