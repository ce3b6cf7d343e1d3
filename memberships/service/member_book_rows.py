"""The member book's slow path: one row in its own savepoint, after its batch met a row
written meanwhile (a phone added at the counter, a card number taken).

The rules are the batch's (memberships.service.member_book_batch), applied with reads and
writes of one row: a refused row becomes a `Rejected` and rolls back its savepoint alone.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import DomainError
from core.lean import connection_of
from customers import service as customers
from memberships.memberbook import MemberRow, Rejected
from memberships.models import Card, Program, Tier
from memberships.repository.cards import lock_card
from memberships.repository.members import MemberCardRepository
from memberships.service.cards import issue_card
from memberships.service.ledger import post_entry


class _RowRefused(Exception):
    def __init__(self, reason: str, field: str | None = None) -> None:
        self.reason, self.field = reason, field


async def _apply_row(
    session: AsyncSession,
    *,
    merchant_id: uuid.UUID,
    program: tuple[Program, Tier] | None,
    row: MemberRow,
    staff_user_id: uuid.UUID | None,
    now: datetime,
) -> bool:
    """One member-book row; True when it brought something new (customer or card)."""
    customer, created = await customers.upsert_member(
        session,
        merchant_id=merchant_id,
        phone=row.phone,
        name=row.name,
        birthday=row.birthday,
        now=now,
    )
    if program is None or not row.has_card_data:
        return created
    prog, entry = program
    cards = MemberCardRepository(session)
    card: Card | None = None
    if row.card_number:
        card = await cards.by_number(prog.id, row.card_number)
        if (
            card is not None
            and card.customer_id != customer.id
            and (card.user_id is None or card.user_id != customer.user_id)
        ):
            raise _RowRefused("card_number_taken", "card_number")
    if card is None:
        card = await cards.of_holder(prog.id, customer.id, customer.user_id)
        if (
            card is not None
            and row.card_number
            and card.legacy_number
            not in (
                None,
                row.card_number,
            )
        ):
            raise _RowRefused("customer_has_other_card", "card_number")
    new_card = card is None
    if card is None:
        card = await issue_card(
            session,
            program=prog,
            entry=entry,
            user_id=customer.user_id,
            customer_id=customer.id,
            legacy_number=row.card_number,
        )
        if card is None:  # a concurrent import of the same member got there first
            raise _RowRefused("concurrent_import", "phone")
    elif card.customer_id is None:
        card.customer_id = customer.id  # an app member's card, now known by phone too
    held = await lock_card(await connection_of(session), card.id)  # orders the opening check
    assert held is not None
    entries, balance, points = await cards.opening_totals(card.id)
    if entries:
        if (balance, points) != (row.balance, row.points):
            raise _RowRefused("opening_balance_differs", "balance")
    elif row.balance or row.points:
        await post_entry(
            session,
            card=card,
            kind="opening_balance",
            rule_version=prog.rule_version,
            points=row.points,
            principal=row.balance,
            staff_user_id=staff_user_id,
            note="member book" + (f" {row.card_number}" if row.card_number else ""),
        )
    return created or new_card


async def apply_alone(
    session: AsyncSession,
    *,
    merchant_id: uuid.UUID,
    program: tuple[Program, Tier] | None,
    row: MemberRow,
    staff_user_id: uuid.UUID | None,
    now: datetime,
) -> bool | Rejected:
    """One row in its own savepoint (the slow path after a batch met a concurrent write)."""
    try:
        async with session.begin_nested():
            return await _apply_row(
                session,
                merchant_id=merchant_id,
                program=program,
                row=row,
                staff_user_id=staff_user_id,
                now=now,
            )
    except _RowRefused as exc:
        return Rejected(row.row, exc.reason, exc.field)
    except DomainError as exc:
        return Rejected(row.row, exc.code)
