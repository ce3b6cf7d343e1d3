"""Members the app never saw: staff grant a card to a customer, a paper member book comes in,
the counter finds a member by phone, and the app account that later signs in with the phone
takes over the customer records and cards.

Member book invariants:
- each row is applied inside its own savepoint: it lands whole (customer, card, opening
  entry) or not at all, and a refused row does not stop the others;
- re-importing the same book changes nothing: customers are matched by phone, cards by number
  (Corner's or the book's) or by holder, and a card's opening balance is posted once — a
  different figure on a later import is refused (`opening_balance_differs`), never added;
- opening balances and points enter the ledger as one `opening_balance` entry (principal and
  points), so a card's totals still equal the sum of its ledger.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from accounts.models import User
from accounts.schemas import mask_phone
from core.errors import DomainError
from customers import service as customers
from memberships import schemas
from memberships.memberbook import CARD_COLUMNS, MemberRow, Rejected
from memberships.models import Card, Program, Tier
from memberships.repository.cards import CardContext, CardRepository
from memberships.repository.members import MemberCardRepository
from memberships.repository.programs import ProgramRepository
from memberships.service.cards import card_extras, card_schema, issue_card
from memberships.service.errors import CardExists, ProgramNotFound, ProgramRequired
from memberships.service.ledger import post_entry


@dataclass
class MemberImportTally:
    """Counts of a member-book import across batches (the CLI commits batch by batch)."""

    imported: int = 0
    updated: int = 0
    rejected: list[Rejected] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return self.imported + self.updated + len(self.rejected)

    def report(self, limit: int = 1000) -> schemas.MemberImportReport:
        return schemas.MemberImportReport(
            imported=self.imported,
            updated=self.updated,
            rejected_total=len(self.rejected),
            rejected=[
                schemas.RejectedMemberRow(row=r.row, reason=r.reason, field=r.field)
                for r in self.rejected[:limit]
            ],
        )


async def load_program(
    session: AsyncSession, *, merchant_id: uuid.UUID, program_id: uuid.UUID
) -> tuple[Program, Tier]:
    """The merchant's programme and its entry tier (for new cards)."""
    programs = ProgramRepository(session)
    program = await programs.get(program_id)
    if program is None or program.merchant_id != merchant_id:
        raise ProgramNotFound()
    tiers = (await programs.tiers([program.id]))[program.id]
    return program, min(tiers, key=lambda t: t.rank)


def check_book_columns(columns: frozenset[str], program_id: uuid.UUID | None) -> None:
    if program_id is None and columns & CARD_COLUMNS:
        raise ProgramRequired(
            "the book has card_number, balance or points columns: give ?program_id=",
            loc=["query", "program_id"],
        )


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
    held = await CardRepository(session).lock(card.id)  # orders the opening check
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


async def import_members(
    session: AsyncSession,
    *,
    merchant_id: uuid.UUID,
    program: tuple[Program, Tier] | None,
    rows: Iterable[MemberRow | Rejected],
    tally: MemberImportTally,
    staff_user_id: uuid.UUID | None,
    now: datetime,
    seen_phones: set[str] | None = None,
) -> None:
    """Apply rows, each in its own savepoint; the caller's transaction holds them all."""
    seen = seen_phones if seen_phones is not None else set()
    for row in rows:
        if isinstance(row, Rejected):
            tally.rejected.append(row)
            continue
        if row.phone in seen:
            tally.rejected.append(Rejected(row.row, "duplicate_phone", "phone"))
            continue
        seen.add(row.phone)
        try:
            async with session.begin_nested():
                brought_new = await _apply_row(
                    session,
                    merchant_id=merchant_id,
                    program=program,
                    row=row,
                    staff_user_id=staff_user_id,
                    now=now,
                )
        except _RowRefused as exc:
            tally.rejected.append(Rejected(row.row, exc.reason, exc.field))
            continue
        except DomainError as exc:
            tally.rejected.append(Rejected(row.row, exc.code))
            continue
        if brought_new:
            tally.imported += 1
        else:
            tally.updated += 1


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
        raise CardExists("This customer already holds a card of this programme")
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
    """The accounts user-created hook: customer records merchants made with this phone, and
    the cards issued to them, become the new account's (api/wiring.py registers it)."""
    linked = await customers.link_customers_to_user(session, user_id=user.id, phone=user.phone)
    await MemberCardRepository(session).link_to_user([cid for _, cid in linked], user.id)
