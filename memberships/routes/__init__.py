from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Depends, Request, Response, status

from accounts.permissions import (
    AnyStaff,
    CurrentUser,
    ManagerStaff,
    current_principal,
    request_principal,
)
from core.clientip import ClientIp
from core.database import SessionDep
from core.idempotency import idempotent
from core.lean import json_response, lean_post, read_path, read_request, transaction
from core.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery
from core.payments import StartsPayment
from core.redis import RedisDep
from core.settings import SettingsDep
from core.sms import send_after_answer
from core.timezones import utcnow
from memberships import schemas, service
from memberships.auth import ProgramManager, ProgramStaff

router = APIRouter(prefix="/v1", tags=["memberships"])

PNG = {"content": {"image/png": {}}, "description": "PNG image"}


@router.post(
    "/merchants/{merchant_id}/programs",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.Program,
)
async def create_program(
    merchant_id: uuid.UUID, data: schemas.ProgramCreate, staff: ManagerStaff, session: SessionDep
) -> schemas.Program:
    return await service.create_program(
        session, merchant_id=staff.merchant_id, data=data, created_by=staff.user_id
    )


@router.get("/merchants/{merchant_id}/programs", response_model=schemas.Page[schemas.Program])
async def list_programs(
    merchant_id: uuid.UUID,
    staff: AnyStaff,
    session: SessionDep,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> schemas.Page[schemas.Program]:
    return await service.list_programs(
        session, merchant_id=staff.merchant_id, cursor=cursor, limit=limit
    )


@router.get("/programs/{program_id}", response_model=schemas.Program)
async def get_program(program_id: uuid.UUID, session: SessionDep) -> schemas.Program:
    return await service.get_program(session, program_id=program_id)


@router.patch("/programs/{program_id}", response_model=schemas.Program)
async def update_program(
    program_id: uuid.UUID, data: schemas.ProgramUpdate, staff: ProgramManager, session: SessionDep
) -> schemas.Program:
    """Edit the rules (managers and owners): in force for every transaction that reads the
    programme after this answer; a change of the rules starts a new rule version."""
    return await service.update_program(
        session,
        program_id=program_id,
        merchant_id=staff.merchant_id,
        data=data,
        user_id=staff.user_id,
    )


@router.get(
    "/programs/{program_id}/versions", response_model=schemas.Page[schemas.ProgramRuleVersion]
)
async def list_rule_versions(
    program_id: uuid.UUID,
    staff: ProgramStaff,
    session: SessionDep,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> schemas.Page[schemas.ProgramRuleVersion]:
    """The programme's rule versions, newest first (what each ledger entry's rule_version
    refers to)."""
    return await service.list_rule_versions(
        session, program_id=program_id, cursor=cursor, limit=limit
    )


@router.put("/programs/{program_id}/design", response_model=schemas.Design)
async def set_design(
    program_id: uuid.UUID,
    data: schemas.DesignUpdate,
    staff: ProgramManager,
    session: SessionDep,
) -> schemas.Design:
    return await service.set_design(
        session, program_id=program_id, merchant_id=staff.merchant_id, data=data
    )


@router.get("/programs/{program_id}/design", response_model=schemas.Design)
async def get_design(program_id: uuid.UUID, session: SessionDep) -> schemas.Design:
    return await service.get_design(session, program_id=program_id)


@router.get(
    "/programs/{program_id}/design/preview.png",
    response_class=Response,
    responses={200: PNG},
)
async def design_preview(program_id: uuid.UUID, session: SessionDep) -> Response:
    png = await service.preview_png(session, program_id=program_id)
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-cache"})


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


# count cards and physical card numbers: their own room, same prefix
from memberships.routes.counts import router as _counts_router  # noqa: E402
from memberships.routes.members import router as _members_router  # noqa: E402

router.include_router(_counts_router)
router.include_router(_members_router)


# -- the counter's writes and joining: lean routes (core.lean) on the app's own router ------


async def counter_transaction(request: Request) -> Response:
    principal = await request_principal(request)
    data, key = await read_request(request, schemas.CounterTransactionCreate, idempotent=True)
    async with transaction(request) as connection:  # committed before the response
        return await idempotent(
            connection,
            key=key,
            scope=f"card_tx:{principal.user_id}",
            payload=data.model_dump(mode="json"),
            status_code=status.HTTP_201_CREATED,
            run=lambda: service.counter_transaction(
                connection,
                settings=request.app.state.settings,
                redis=request.app.state.redis,
                staff_user_id=principal.user_id,
                data=data,
                now=utcnow(),
            ),
        )


async def join_program(request: Request) -> Response:
    principal = await request_principal(request)
    program_id = read_path(request, "program_id", uuid.UUID)
    async with transaction(request) as connection:  # committed before the response
        card = await service.join_program(
            connection, program_id=program_id, user_id=principal.user_id, now=utcnow()
        )
    return json_response(card, status.HTTP_201_CREATED)


def add_lean_routes(app_router: APIRouter) -> None:
    """Joining a programme and the counter's card transactions as lean routes (the bearer
    scheme documented, checked by the handlers)."""
    common: dict[str, Any] = {
        "tags": ["memberships"],
        "dependencies": [Depends(current_principal)],
        "status_code": status.HTTP_201_CREATED,
    }
    lean_post(
        app_router,
        "/v1/programs/{program_id}/join",
        join_program,
        path_params={"program_id": uuid.UUID},
        response_model=schemas.Card,
        **common,
    )
    lean_post(
        app_router,
        "/v1/counter/transactions",
        counter_transaction,
        body=schemas.CounterTransactionCreate,
        idempotent=True,
        response_model=schemas.CounterTransaction,
        **common,
    )
