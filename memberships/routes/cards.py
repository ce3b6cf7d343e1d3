"""Routes of member cards: the holder's cards, image and QR token, the payment PIN (and its
reset at the counter by SMS code), the ledger and tier history, staff adjustments and
reversals, top-ups (online and sold at the counter) and the stored-value refund (mounted by the
package router). Who may do what is checked by the service (holder or the merchant's staff;
anyone else gets the card's 404)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, BackgroundTasks, Request, Response, status

from accounts.permissions import CurrentUser
from core.clientip import ClientIp
from core.database import SessionDep
from core.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery
from core.payments import StartsPayment
from core.redis import RedisDep
from core.settings import SettingsDep
from core.sms import send_after_answer
from core.timezones import utcnow
from memberships import schemas, service
from memberships.routes.programs import PNG

router = APIRouter()


@router.get("/me/cards", response_model=schemas.Page[schemas.Card])
async def my_cards(
    principal: CurrentUser,
    session: SessionDep,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> schemas.Page[schemas.Card]:
    return await service.my_cards(
        session, user_id=principal.user_id, cursor=cursor, limit=limit, now=utcnow()
    )


@router.get("/cards/{card_id}", response_model=schemas.Card)
async def get_card(card_id: uuid.UUID, principal: CurrentUser, session: SessionDep) -> schemas.Card:
    return await service.get_card(session, card_id=card_id, user_id=principal.user_id, now=utcnow())


@router.get("/cards/{card_id}/image.png", response_class=Response, responses={200: PNG})
async def card_image(card_id: uuid.UUID, principal: CurrentUser, session: SessionDep) -> Response:
    png = await service.card_png(session, card_id=card_id, user_id=principal.user_id)
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, no-cache"})


@router.get("/cards/{card_id}/qr-token", response_model=schemas.QrToken)
async def qr_token(
    card_id: uuid.UUID, principal: CurrentUser, session: SessionDep, settings: SettingsDep
) -> schemas.QrToken:
    return await service.issue_qr_token(
        session, settings=settings, card_id=card_id, user_id=principal.user_id, now=utcnow()
    )


@router.put("/cards/{card_id}/pin", response_model=schemas.Card)
async def set_pin(
    card_id: uuid.UUID,
    data: schemas.PinSet,
    principal: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    redis: RedisDep,
) -> schemas.Card:
    return await service.set_pin(
        session,
        settings=settings,
        redis=redis,
        card_id=card_id,
        user_id=principal.user_id,
        data=data,
        now=utcnow(),
    )


@router.post(
    "/counter/cards/{card_id}/pin-code",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=schemas.PinCodeSent,
)
async def send_pin_code(
    card_id: uuid.UUID,
    principal: CurrentUser,
    ip: ClientIp,
    background: BackgroundTasks,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    redis: RedisDep,
) -> schemas.PinCodeSent:
    """Staff ask for an SMS code to the member's own phone, so the member can set or reset
    the card's payment PIN on the counter's tablet; 429 with Retry-After past the limits."""
    sent, message = await service.send_pin_code(
        session,
        settings=settings,
        redis=redis,
        staff_user_id=principal.user_id,
        card_id=card_id,
        client_ip=ip,
    )
    background.add_task(send_after_answer, request.app.state.sms, message)
    return sent


@router.put("/counter/cards/{card_id}/pin", response_model=schemas.Card)
async def reset_pin(
    card_id: uuid.UUID,
    data: schemas.CounterPinReset,
    principal: CurrentUser,
    ip: ClientIp,
    session: SessionDep,
    settings: SettingsDep,
    redis: RedisDep,
) -> schemas.Card:
    """The member typed the code and a new PIN: set, and a PIN lock lifted."""
    return await service.reset_pin_with_code(
        session,
        settings=settings,
        redis=redis,
        staff_user_id=principal.user_id,
        card_id=card_id,
        data=data,
        client_ip=ip,
        now=utcnow(),
    )


@router.get("/cards/{card_id}/ledger", response_model=schemas.Page[schemas.LedgerEntry])
async def card_ledger(
    card_id: uuid.UUID,
    principal: CurrentUser,
    session: SessionDep,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> schemas.Page[schemas.LedgerEntry]:
    return await service.ledger_page(
        session, card_id=card_id, user_id=principal.user_id, cursor=cursor, limit=limit
    )


@router.get("/cards/{card_id}/tier-changes", response_model=schemas.Page[schemas.TierChange])
async def card_tier_changes(
    card_id: uuid.UUID,
    principal: CurrentUser,
    session: SessionDep,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> schemas.Page[schemas.TierChange]:
    """The card's moves between tiers, newest first (its holder or the merchant's staff)."""
    return await service.tier_history(
        session, card_id=card_id, user_id=principal.user_id, cursor=cursor, limit=limit
    )


@router.post(
    "/cards/{card_id}/adjustments",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.CounterTransaction,
)
async def adjust_points(
    card_id: uuid.UUID,
    data: schemas.AdjustmentCreate,
    principal: CurrentUser,
    session: SessionDep,
) -> schemas.CounterTransaction:
    return await service.adjust_points(
        session, card_id=card_id, user_id=principal.user_id, data=data
    )


@router.post(
    "/counter/transactions/{entry_id}/reverse",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.CounterTransaction,
)
async def reverse_transaction(
    entry_id: uuid.UUID,
    principal: CurrentUser,
    session: SessionDep,
    data: schemas.ReversalCreate | None = None,
) -> schemas.CounterTransaction:
    return await service.reverse_transaction(
        session,
        entry_id=entry_id,
        user_id=principal.user_id,
        note=data.note if data else None,
        now=utcnow(),
    )


@router.post(
    "/cards/{card_id}/topups", status_code=status.HTTP_201_CREATED, response_model=schemas.Topup
)
async def start_topup(
    card_id: uuid.UUID,
    data: schemas.TopupCreate,
    principal: CurrentUser,
    session: SessionDep,
    pay: StartsPayment,
) -> Response:
    return await pay(
        f"card_topup:{principal.user_id}:{card_id}",
        data,
        lambda checkout: service.start_topup(
            session, checkout, card_id=card_id, user_id=principal.user_id, data=data
        ),
    )


@router.post(
    "/counter/topups",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.Topup,
)
async def sell_topup(
    data: schemas.CounterTopupCreate,
    principal: CurrentUser,
    session: SessionDep,
    pay: StartsPayment,
) -> Response:
    """A clerk sells a top-up at the counter; show `payment.code_url` as a QR and poll
    `GET /v1/payments/{reference}` until the member has paid."""
    return await pay(
        f"counter_topup:{principal.user_id}",
        data,
        lambda checkout: service.sell_topup(
            session, checkout, staff_user_id=principal.user_id, data=data
        ),
    )


@router.post("/cards/{card_id}/refund", response_model=schemas.Refund)
async def refund_stored_value(
    card_id: uuid.UUID, principal: CurrentUser, session: SessionDep
) -> schemas.Refund:
    return await service.refund_stored_value(
        session, card_id=card_id, user_id=principal.user_id, now=utcnow()
    )
