from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, status
from pydantic import BaseModel
from starlette.responses import Response

from accounts import service as accounts_service
from accounts.permissions import (
    AnyStaff,
    CurrentUser,
    ManagerStaff,
    OptionalUser,
    current_principal,
    request_principal,
)
from core.database import SessionDep, get_sessionmaker
from core.idempotency import idempotent
from core.lean import (
    json_response,
    lean_post,
    read_path,
    read_request,
    transaction,
)
from core.money import DEFAULT_CURRENCY
from core.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page
from core.settings import SettingsDep
from core.timezones import utcnow
from coupons import codes, schemas, service
from coupons.auth import CampaignManager, CampaignStaff, RedemptionManager
from coupons.offer_line import offer_line

router = APIRouter(prefix="/v1", tags=["coupons"])


@router.post(
    "/merchants/{merchant_id}/campaigns",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.Campaign,
)
async def create_campaign(
    merchant_id: uuid.UUID,
    data: schemas.CampaignCreate,
    staff: ManagerStaff,
    session: SessionDep,
) -> schemas.Campaign:
    return await service.create_campaign(
        session, merchant_id=staff.merchant_id, created_by=staff.user_id, data=data, now=utcnow()
    )


@router.get("/merchants/{merchant_id}/campaigns", response_model=Page[schemas.Campaign])
async def list_campaigns(
    merchant_id: uuid.UUID,
    staff: AnyStaff,
    session: SessionDep,
    status: Literal["draft", "published", "paused", "ended"] | None = None,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> Page[schemas.Campaign]:
    """The merchant's campaigns (staff), newest first."""
    items, next_cursor = await service.list_campaigns(
        session,
        merchant_id=staff.merchant_id,
        status=status,
        limit=limit,
        cursor=cursor,
        now=utcnow(),
    )
    return Page(items=items, next_cursor=next_cursor)


@router.get("/campaigns/{campaign_id}", response_model=schemas.Campaign)
async def get_campaign(
    campaign_id: uuid.UUID, session: SessionDep, principal: OptionalUser
) -> schemas.Campaign:
    is_staff = False
    if principal is not None:
        merchant_id = await service.campaign_merchant(session, campaign_id=campaign_id)
        role = await accounts_service.staff_role(
            session, merchant_id=merchant_id, user_id=principal.user_id
        )
        is_staff = role is not None
    return await service.view_campaign(
        session, campaign_id=campaign_id, staff=is_staff, now=utcnow()
    )


def _lifecycle(action: str, to: str, allowed_from: tuple[str, ...] | None = None) -> None:
    async def endpoint(
        campaign_id: uuid.UUID, session: SessionDep, staff: CampaignManager
    ) -> schemas.Campaign:
        return await service.change_status(
            session, campaign_id=campaign_id, to=to, now=utcnow(), allowed_from=allowed_from
        )

    endpoint.__name__ = f"{action}_campaign"
    router.add_api_route(
        f"/campaigns/{{campaign_id}}/{action}",
        endpoint,
        methods=["POST"],
        response_model=schemas.Campaign,
        summary=f"{action.capitalize()} a campaign (manager)",
    )


_lifecycle("publish", "published")
_lifecycle("pause", "paused")
_lifecycle("resume", "published", ("paused",))
_lifecycle("end", "ended")


@router.patch("/campaigns/{campaign_id}", response_model=schemas.Campaign)
async def update_campaign(
    campaign_id: uuid.UUID,
    data: schemas.CampaignUpdate,
    session: SessionDep,
    staff: CampaignManager,
) -> schemas.Campaign:
    """Drafts: any field. Published or paused: name, description, `total_quantity` (never
    below what is handed out: 422 `quantity_below_claimed`), `valid_until`/`claim_until`
    (later only); other fields 409 `campaign_not_editable`."""
    return await service.update_campaign(session, campaign_id=campaign_id, data=data, now=utcnow())


@router.post("/campaigns/{campaign_id}/issue", response_model=schemas.IssueResult)
async def issue_coupons(
    campaign_id: uuid.UUID,
    session: SessionDep,
    staff: CampaignManager,
    data: schemas.IssueRequest | None = None,
) -> schemas.IssueResult:
    return await service.issue(
        session,
        campaign_id=campaign_id,
        user_ids=data.user_ids if data is not None else None,
        now=utcnow(),
    )


@router.get("/campaigns/{campaign_id}/stats", response_model=schemas.CampaignStats)
async def campaign_stats(
    campaign_id: uuid.UUID, session: SessionDep, staff: CampaignStaff
) -> schemas.CampaignStats:
    return await service.campaign_stats(session, campaign_id=campaign_id, now=utcnow())


@router.get(
    "/campaigns/{campaign_id}/paper-sheet.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
)
async def paper_sheet(
    campaign_id: uuid.UUID,
    session: SessionDep,
    staff: CampaignManager,
    settings: SettingsDep,
    count: Annotated[int, Query(ge=1, le=480, description="Coupons on the sheet")] = 12,
    start: Annotated[
        int, Query(ge=0, le=1_000_000, description="Skip this many earlier paper coupons")
    ] = 0,
) -> Response:
    """A4 sheet of paper coupons number `start`…`start+count-1`, issuing the missing ones."""
    now = utcnow()
    campaign_schema = await service.view_campaign(
        session, campaign_id=campaign_id, staff=True, now=now
    )
    _, coupons = await service.issue_paper(
        session, campaign_id=campaign_id, start=start, count=count, now=now
    )
    keys = settings.signing_keys()
    pdf = codes.paper_sheet_pdf(
        title=campaign_schema.name,
        subtitle=_offer_text(campaign_schema),
        entries=[(c.code, codes.qr_payload(c.code, keys)) for c in coupons],
        footer=f"{campaign_schema.valid_from:%Y-%m-%d} – {campaign_schema.valid_until:%Y-%m-%d}",
    )
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="coupons-{campaign_id}-{start}.pdf"',
            "Cache-Control": "private, no-store",
        },
    )


def _offer_text(campaign: schemas.Campaign) -> str:
    """The sheet's line in the reader's language, money in yuan (`立减¥10.00（满¥50.00可用）`)."""
    discount = campaign.discount
    amount = discount.value if isinstance(discount, schemas.AmountOff) else None
    percent = discount if isinstance(discount, schemas.PercentOff) else None
    max_off = percent.max_off if percent else None
    priced = [m for m in (amount, max_off, campaign.min_spend) if m is not None]
    return offer_line(
        discount.kind,
        amount=amount.amount if amount else None,
        percent=percent.value if percent else None,
        max_off=max_off.amount if max_off else None,
        min_spend=campaign.min_spend.amount if campaign.min_spend else None,
        currency=priced[0].currency if priced else DEFAULT_CURRENCY,
        gift_name=discount.gift_name if isinstance(discount, schemas.Gift) else None,
    )


@router.get("/me/coupons", response_model=Page[schemas.Coupon])
async def my_coupons(
    session: SessionDep,
    principal: CurrentUser,
    status: Literal["active", "redeemed", "expired"] | None = None,
    usable_at: Annotated[
        uuid.UUID | None,
        Query(description="A shop: only the coupons usable there now, best first"),
    ] = None,
    order_amount: Annotated[
        int | None,
        Query(ge=0, le=10**12, description="With usable_at: the bill in fen (min spend, value)"),
    ] = None,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> Page[schemas.Coupon]:
    """The wallet, newest first; with `usable_at`, what the holder can use at that shop now."""
    if usable_at is not None:
        return await service.usable_at(
            session,
            user_id=principal.user_id,
            shop_id=usable_at,
            order_amount=order_amount,
            limit=limit,
            cursor=cursor,
            now=utcnow(),
        )
    return await service.wallet(
        session,
        user_id=principal.user_id,
        status=status,
        limit=limit,
        cursor=cursor,
        now=utcnow(),
    )


@router.get(
    "/coupons/{coupon_id}/qr.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
)
async def coupon_qr(
    coupon_id: uuid.UUID,
    session: SessionDep,
    principal: CurrentUser,
    settings: SettingsDep,
    size: Annotated[int, Query(ge=64, le=1024, description="Approximate width in pixels")] = 256,
) -> Response:
    payload = await service.holder_qr_payload(
        session, coupon_id=coupon_id, user_id=principal.user_id, keys=settings.signing_keys()
    )
    return Response(
        codes.qr_png(payload, size),
        media_type="image/png",
        headers={"Cache-Control": "private, no-store"},
    )


# -- the counter: lean routes (core.lean), registered on the app's router -----------------


async def counter_lookup(request: Request) -> Response:
    # what redeeming would do; an order's code or QR is answered by orders' lookup handler
    principal = await request_principal(request)
    data, _ = await read_request(request, schemas.CounterRequest)
    keys = request.app.state.settings.signing_keys()
    if service.is_coupon(data, keys):
        async with transaction(request) as connection:
            found: BaseModel = await service.lookup(
                connection, staff_user_id=principal.user_id, data=data, keys=keys, now=utcnow()
            )
    else:
        async with get_sessionmaker(request)() as session:  # read-only: never committed
            found = await service.lookup_other(
                session, staff_user_id=principal.user_id, data=data, keys=keys
            )
    return json_response(found)


async def counter_redeem(request: Request) -> Response:
    principal = await request_principal(request)
    data, key = await read_request(request, schemas.CounterRequest, idempotent=True)
    keys = request.app.state.settings.signing_keys()
    async with transaction(request) as connection:  # committed before the response is sent

        async def run() -> schemas.RedeemResult:
            return await service.redeem(
                connection, staff_user_id=principal.user_id, data=data, keys=keys, now=utcnow()
            )

        return await idempotent(
            connection,
            key=key,
            scope=f"redeem:{principal.user_id}",
            payload=data.model_dump(mode="json"),
            status_code=status.HTTP_200_OK,
            run=run,
        )


async def claim_coupon(request: Request) -> Response:
    principal = await request_principal(request)
    campaign_id = read_path(request, "campaign_id", uuid.UUID)
    await service.check_claim_rate(request.app.state.redis, user_id=principal.user_id)
    async with transaction(request) as connection:  # committed before the response
        coupon = await service.claim(
            connection, campaign_id=campaign_id, user_id=principal.user_id, now=utcnow()
        )
    return json_response(coupon, status.HTTP_201_CREATED)


def add_lean_routes(app_router: APIRouter) -> None:
    """The counter's coupon routes as lean routes on the app's own router (matched first and
    once, like nearby's DirectRoute); the bearer scheme is documented, checked by the
    handlers."""
    common: dict[str, Any] = {
        "tags": ["coupons"],
        "dependencies": [Depends(current_principal)],
        "body": schemas.CounterRequest,
    }
    lean_post(
        app_router,
        "/v1/counter/lookup",
        counter_lookup,
        response_model=None,
        responses={
            200: {
                "model": schemas.Lookup,
                "description": 'The coupon lookup; an order\'s code or QR answers `kind: "order"`'
                " (see POST /v1/counter/orders/lookup)",
            }
        },
        **common,
    )
    lean_post(
        app_router,
        "/v1/counter/redeem",
        counter_redeem,
        idempotent=True,
        response_model=schemas.RedeemResult,
        responses={409: {"description": "coupon_already_redeemed (with redeemed_at, shop_id)"}},
        **common,
    )
    lean_post(
        app_router,
        "/v1/campaigns/{campaign_id}/claim",
        claim_coupon,
        path_params={"campaign_id": uuid.UUID},
        status_code=status.HTTP_201_CREATED,
        response_model=schemas.Coupon,
        tags=["coupons"],
        dependencies=[Depends(current_principal)],
    )


@router.post("/redemptions/{redemption_id}/reverse", response_model=schemas.Redemption)
async def reverse_redemption(
    redemption_id: uuid.UUID,
    session: SessionDep,
    staff: RedemptionManager,
    data: schemas.ReverseRequest | None = None,
) -> schemas.Redemption:
    return await service.reverse(
        session,
        redemption_id=redemption_id,
        merchant_id=staff.merchant_id,
        by=staff.user_id,
        reason=data.reason if data is not None else None,
        now=utcnow(),
    )


@router.get("/merchants/{merchant_id}/coupon-settings", response_model=schemas.CouponSettings)
async def get_coupon_settings(
    merchant_id: uuid.UUID, staff: AnyStaff, session: SessionDep
) -> schemas.CouponSettings:
    return await service.get_settings(session, merchant_id=staff.merchant_id)


@router.put("/merchants/{merchant_id}/coupon-settings", response_model=schemas.CouponSettings)
async def put_coupon_settings(
    merchant_id: uuid.UUID, data: schemas.CouponSettings, staff: ManagerStaff, session: SessionDep
) -> schemas.CouponSettings:
    return await service.put_settings(session, merchant_id=staff.merchant_id, data=data)
