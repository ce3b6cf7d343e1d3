from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from accounts.permissions import AnyStaff, CurrentUser, ManagerStaff
from core.database import SessionDep
from core.idempotency import Idempotent
from core.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery
from core.payments import StartsPayment
from core.redis import RedisDep
from core.settings import SettingsDep
from core.timezones import utcnow
from memberships import schemas, service
from memberships.auth import ProgramManager

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
    return await service.create_program(session, merchant_id=staff.merchant_id, data=data)


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


@router.post(
    "/programs/{program_id}/join",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.Card,
)
async def join_program(
    program_id: uuid.UUID, principal: CurrentUser, session: SessionDep
) -> schemas.Card:
    return await service.join_program(
        session, program_id=program_id, user_id=principal.user_id, now=utcnow()
    )


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
    "/counter/transactions",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.CounterTransaction,
)
async def counter_transaction(
    data: schemas.CounterTransactionCreate,
    principal: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    redis: RedisDep,
    idempotent: Idempotent,
) -> Response:
    return await idempotent(
        f"card_tx:{principal.user_id}",
        data,
        lambda: service.counter_transaction(
            session,
            settings=settings,
            redis=redis,
            staff_user_id=principal.user_id,
            data=data,
            now=utcnow(),
        ),
        status_code=status.HTTP_201_CREATED,
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
    settings: SettingsDep,
    pay: StartsPayment,
) -> Response:
    return await pay(
        f"card_topup:{principal.user_id}:{card_id}",
        data,
        lambda checkout: service.start_topup(
            session, checkout, card_id=card_id, user_id=principal.user_id, data=data
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
