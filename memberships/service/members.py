"""Members the app never saw: staff grant a card to a customer, the counter finds a member by
phone, and the app account that later signs in with the phone takes over the customer records
and cards (the paper member book: memberships.service.member_book).

A customer holds at most one card of a programme (409 `card_exists`); a lookup by phone shows
only the merchant's own customers, nothing for a phone it never saw.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from accounts.models import User
from accounts.schemas import mask_phone
from core.i18n import localised
from core.lean import connection_of
from customers import service as customers
from memberships import schemas
from memberships.models import Program, Tier
from memberships.repository.cards import CardContext
from memberships.repository.members import MemberCardRepository
from memberships.repository.programs import program_with_entry_tier
from memberships.service.cards import card_extras, card_schema, issue_card
from memberships.service.errors import CardExists, ProgramNotFound


async def load_program(
    session: AsyncSession, *, merchant_id: uuid.UUID, program_id: uuid.UUID
) -> tuple[Program, Tier]:
    """The merchant's programme and its entry tier (for new cards)."""
    found = await program_with_entry_tier(await connection_of(session), program_id)
    if found is None or found[0].merchant_id != merchant_id:
        raise ProgramNotFound()
    return found


async def grant_card(
    session: AsyncSession,
    *,
    merchant_id: uuid.UUID,
    program_id: uuid.UUID,
    customer_id: uuid.UUID,
    now: datetime,
) -> schemas.Card:
    """Staff give a customer (walk-in or app) a card of the programme; 409 `card_exists`."""
    program, entry = await load_program(session, merchant_id=merchant_id, program_id=program_id)
    customer = await customers.known_customer(
        session, merchant_id=merchant_id, customer_id=customer_id
    )
    card = await issue_card(
        session,
        program=program,
        entry=entry,
        user_id=customer.user_id,
        customer_id=customer.id,
    )
    if card is None:
        raise CardExists(
            localised(
                "该客户已持有本会员计划的卡", "This customer already holds a card of this programme"
            )
        )
    await customers.record_activity(
        session,
        merchant_id=merchant_id,
        user_id=customer.user_id,
        customer_id=customer.id,
        kind="card_joined",
        at=now,
        reference_id=card.id,
        tier=entry.code,
    )
    return card_schema(card, CardContext(card, program, entry, None))


async def lookup_members(
    session: AsyncSession, *, merchant_id: uuid.UUID, phone: str, mask: bool, now: datetime
) -> schemas.MemberLookup:
    """The counter's "forgot my card": the merchant's customers with this phone and their
    cards (tier, points, balance, count passes), nothing for a phone the merchant never saw."""
    found = await customers.customers_with_phone(session, merchant_id=merchant_id, phone=phone)
    user_ids = [c.user_id for c in found if c.user_id is not None]
    contexts = await MemberCardRepository(session).contexts_of_holders(
        merchant_id, [c.id for c in found], user_ids
    )
    extras = await card_extras(session, [ctx.card.id for ctx in contexts], now)
    by_customer = {c.id: c for c in found}
    by_user = {c.user_id: c for c in found if c.user_id is not None}
    items = []
    for ctx in contexts:
        card = ctx.card
        holder = by_customer.get(card.customer_id) if card.customer_id else None
        if holder is None and card.user_id is not None:
            holder = by_user.get(card.user_id)
        items.append(
            schemas.MemberCard(
                customer_id=holder.id if holder else None,
                name=holder.name if holder else None,
                card=card_schema(ctx.card, ctx, extras=extras[ctx.card.id]),
            )
        )
    return schemas.MemberLookup(
        phone=mask_phone(phone) if mask else phone,
        customer_ids=[c.id for c in found],
        items=items,
    )


async def link_new_user(session: AsyncSession, user: User) -> None:
    """The accounts phone-verified hook: customer records merchants made with this phone, and
    the cards issued to them, become the account's once it proved the phone by an SMS code
    (api/wiring.py registers it)."""
    linked = await customers.link_customers_to_user(session, user_id=user.id, phone=user.phone)
    await MemberCardRepository(session).link_to_user([cid for _, cid in linked], user.id)
