"""Members staff bring in: walk-in cards, the paper member book, the counter's phone lookup."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, status

from accounts import service as accounts
from accounts.permissions import CurrentUser, ManagerStaff, staff_or_not_found
from core.database import SessionDep
from core.settings import SettingsDep
from core.timezones import utcnow, zone
from memberships import memberbook, schemas, service
from memberships.auth import ProgramStaff
from memberships.routes.counts import UPLOAD_BODY, read_upload
from memberships.service.errors import MemberBookInvalid
from merchants import service as merchants

router = APIRouter(tags=["memberships"])

# ~50k rows of a member book; larger books: `corner import-members`
MAX_BOOK_BYTES = 8 * 1024 * 1024


@router.post(
    "/merchants/{merchant_id}/customers/import",
    response_model=schemas.MemberImportReport,
    openapi_extra=UPLOAD_BODY,
    tags=["customers"],
)
async def import_member_book(
    merchant_id: uuid.UUID,
    request: Request,
    staff: ManagerStaff,
    session: SessionDep,
    program_id: Annotated[
        uuid.UUID | None,
        Query(description="The programme of the book's cards (required with card columns)"),
    ] = None,
) -> schemas.MemberImportReport:
    """A paper member book (CSV or XLSX: `name,phone,birthday,card_number,balance,points`).
    Each row lands whole or is reported in `rejected` with its reason; importing the same
    book again changes nothing. Opening balances enter the ledger as `opening_balance`."""
    raw, filename = await read_upload(request, invalid=MemberBookInvalid, limit=MAX_BOOK_BYTES)
    now = utcnow()
    program = (
        await service.load_program(session, merchant_id=staff.merchant_id, program_id=program_id)
        if program_id is not None
        else None
    )
    timezone = await accounts.merchant_timezone(session, merchant_id=staff.merchant_id)
    try:
        columns, rows = memberbook.read_book(
            raw, filename=filename, today=now.astimezone(zone(timezone)).date()
        )
        service.check_book_columns(columns, program_id)
        tally = service.MemberImportTally()
        await service.import_members(
            session,
            merchant_id=staff.merchant_id,
            program=program,
            rows=rows,
            tally=tally,
            staff_user_id=staff.user_id,
            now=now,
        )
    except memberbook.BookInvalid as exc:
        # args[0]: the localised text (str() would drop which language it is in)
        raise MemberBookInvalid(exc.args[0], loc=["body", "file"]) from exc
    return tally.report()


@router.post(
    "/programs/{program_id}/cards",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.Card,
)
async def grant_card(
    program_id: uuid.UUID, data: schemas.GrantCard, staff: ProgramStaff, session: SessionDep
) -> schemas.Card:
    """Staff give a customer (one added at the counter, or an app user) a card."""
    return await service.grant_card(
        session,
        merchant_id=staff.merchant_id,
        program_id=program_id,
        customer_id=data.customer_id,
        now=utcnow(),
    )


@router.post("/counter/members/lookup", response_model=schemas.MemberLookup, tags=["counter"])
async def lookup_members(
    data: schemas.MemberLookupRequest, principal: CurrentUser, session: SessionDep
) -> schemas.MemberLookup:
    """A member who forgot the card: their cards at this shop's merchant, found by phone
    (masked for clerks). Nothing is written."""
    merchant_id = await merchants.merchant_of_shop(session, shop_id=data.shop_id)
    staff = await staff_or_not_found(
        session, principal, merchant_id, "clerk", merchants.ShopNotFound
    )
    return await service.lookup_members(
        session,
        merchant_id=merchant_id,
        phone=data.phone,
        mask=not staff.at_least("manager"),
        now=utcnow(),
    )


@router.post("/counter/cards/lookup", response_model=schemas.MemberCard, tags=["counter"])
async def look_up_card(
    data: schemas.CounterCardLookup,
    principal: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
) -> schemas.MemberCard:
    """A typed or scanned card shown before charging: holder's name, tier, points, balance,
    count passes, so the clerk confirms who stands there. Nothing is written; a QR token is
    not used up (the charge uses it)."""
    return await service.look_up_card(
        session, settings=settings, staff_user_id=principal.user_id, data=data, now=utcnow()
    )
