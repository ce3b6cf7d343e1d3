"""`GET /v1/shops/{shop_id}/page`: a shop's screen in the consumer app, in one call.

Each package contributes its part through its service (merchants: the shop, photos, offerings,
reviews, other shops; orders: the next free slots of bookable offerings; coupons: the
campaigns claimable now; memberships: programmes and the caller's cards), so the page lives
here, above them all. Every part is a fixed number of statements whatever the counts (no
statement per offering, campaign or programme): 6 + 2 + 1 + 3 for an anonymous caller, and
5 more for a signed-in one with cards (cards, 12-month spend, tiers, passes, card numbers),
as tests/api/test_shop_page.py counts. Reads go to the replica when one is configured
(the session of `ReadSessionDep`); a discovery-only place shows no offers, cards or slots.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from accounts.permissions import OptionalUser
from core.database import ReadSessionDep
from core.settings import SettingsDep
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

router = APIRouter(prefix="/v1", tags=["shops"])


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


@router.get("/shops/{shop_id}/page", response_model=ShopPage, operation_id="shops_page")
async def shop_page(
    shop_id: uuid.UUID,
    session: ReadSessionDep,
    settings: SettingsDep,
    principal: OptionalUser,
    crs: Annotated[Crs, Query(description="Coordinate system of locations")] = "wgs84",
) -> ShopPage:
    """Everything a shop's screen shows. Signed in, campaigns carry `per_user_left` and
    `held` and programmes `my_card`; anonymous callers get the same page without them."""
    now = utcnow()
    user_id = principal.user_id if principal is not None else None
    parts = await merchants.shop_page_parts(session, shop_id=shop_id, crs=crs, now=now)
    shop = parts.shop
    selling = not shop.discovery_only
    bookable = [o.id for o in parts.offerings if o.bookable] if selling else []
    slots = await orders.next_free_slots(
        session, settings=settings, shop=shop, offering_ids=bookable, now=now
    )
    campaigns = (
        await coupons.claimable_at_shop(
            session, shop_id=shop.id, merchant_id=shop.merchant_id, user_id=user_id, now=now
        )
        if selling
        else []
    )
    programs = (
        await memberships.programs_for_shop_page(
            session, merchant_id=shop.merchant_id, user_id=user_id, now=now
        )
        if selling
        else []
    )
    return ShopPage(
        shop=shop,
        offerings=[
            ShopPageOffering(**o.model_dump(), next_slots=slots.get(o.id, []))
            for o in (parts.offerings if selling else [])
        ],
        campaigns=campaigns,
        programs=programs,
        reviews=parts.reviews,
        other_shops=parts.other_shops,
    )
