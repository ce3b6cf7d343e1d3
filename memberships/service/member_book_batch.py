"""The member book's fast path: a batch of rows decided from a few row-locked reads (the
merchant's records of the phones, the programme's cards of the numbers and holders, their
opening entries), then written with one set-based statement per table.

Later rows of a batch see what earlier ones planned (a card number, a holder). A write that
meets a row someone else wrote meanwhile raises `BatchConflict`: the caller rolls the batch's
savepoint back and applies its rows one by one (memberships.service.member_book_rows).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core.ids import new_id
from customers import service as customers
from memberships import cardnumbers
from memberships.memberbook import MemberRow, Rejected
from memberships.models import Program, Tier
from memberships.repository.members import MemberCardRepository


class BatchConflict(Exception):
    """A set-based write of a batch met a row written meanwhile: take the rows one by one."""


@dataclass
class _BookCard:
    """What a batch knows of a programme card (loaded, or planned by an earlier row)."""

    id: uuid.UUID
    card_number: str | None
    legacy_number: str | None
    customer_id: uuid.UUID | None
    user_id: uuid.UUID | None
    openings: tuple[int, int, int]  # (entries, balance, points) of opening_balance entries


@dataclass
class _Plan:
    new_customers: list[customers.NewMember] = field(default_factory=list)
    refreshed: list[tuple[uuid.UUID, str | None, date | None]] = field(default_factory=list)
    new_cards: list[tuple[uuid.UUID, uuid.UUID | None, uuid.UUID, str | None, str]] = field(
        default_factory=list
    )
    linked_cards: list[tuple[uuid.UUID, uuid.UUID]] = field(default_factory=list)
    openings: list[tuple[uuid.UUID, uuid.UUID, int, int, str]] = field(default_factory=list)


async def apply_batch(
    session: AsyncSession,
    *,
    merchant_id: uuid.UUID,
    program: tuple[Program, Tier] | None,
    rows: list[MemberRow],
    staff_user_id: uuid.UUID | None,
    now: datetime,
) -> list[bool | Rejected]:
    """Decide every row of the batch from a few locked reads, then write the accepted ones
    with one statement per table; each row's outcome (True: something new; False: updated)."""
    phones = [row.phone for row in rows]
    known = await customers.members_by_phone(session, merchant_id=merchant_id, phones=phones)
    accounts = await customers.phone_accounts(session, phones=[p for p in phones if p not in known])
    repo = MemberCardRepository(session)
    cards: list[_BookCard] = []
    if program is not None:
        prog = program[0]
        found = await repo.cards_for_book(
            prog.id,
            numbers=[r.card_number for r in rows if r.card_number and r.has_card_data],
            customer_ids=[c.id for c in known.values()],
            user_ids=[c.user_id for c in known.values() if c.user_id]
            + [user_id for user_id, _ in accounts.values()],
        )
        openings = await repo.openings_of([c.id for c in found])
        cards = [
            _BookCard(
                c.id, c.card_number, c.legacy_number, c.customer_id, c.user_id,
                openings.get(c.id, (0, 0, 0)),
            )
            for c in found
        ]  # fmt: skip
    by_number: dict[str, _BookCard] = {c.legacy_number: c for c in cards if c.legacy_number}
    by_number |= {c.card_number: c for c in cards if c.card_number}  # Corner's number wins
    by_customer = {c.customer_id: c for c in cards if c.customer_id}
    by_user = {c.user_id: c for c in cards if c.user_id}

    plan = _Plan()
    outcomes: list[bool | Rejected] = []
    for row in rows:
        customer = known.get(row.phone)
        if customer is not None:
            customer_id, user_id, created = customer.id, customer.user_id, False
        else:
            account = accounts.get(row.phone)
            customer_id, user_id, created = new_id(), account[0] if account else None, True
        if program is None or not row.has_card_data:
            outcomes.append(created)
            _plan_customer(plan, row, customer_id, user_id, created, accounts)
            continue
        card: _BookCard | None = None
        if row.card_number:
            card = by_number.get(row.card_number)
            if (
                card is not None
                and card.customer_id != customer_id
                and (card.user_id is None or card.user_id != user_id)
            ):
                outcomes.append(Rejected(row.row, "card_number_taken", "card_number"))
                continue
        if card is None:
            card = by_customer.get(customer_id) or (by_user.get(user_id) if user_id else None)
            if (
                card is not None
                and row.card_number
                and card.legacy_number
                not in (
                    None,
                    row.card_number,
                )
            ):
                outcomes.append(Rejected(row.row, "customer_has_other_card", "card_number"))
                continue
        entries, balance, points = card.openings if card is not None else (0, 0, 0)
        if entries and (balance, points) != (row.balance, row.points):
            outcomes.append(Rejected(row.row, "opening_balance_differs", "balance"))
            continue
        # accepted: what the row writes, and what later rows of the batch must see of it
        _plan_customer(plan, row, customer_id, user_id, created, accounts)
        new_card = card is None
        if card is None:
            card = _BookCard(
                new_id(), cardnumbers.new_card_number(), row.card_number, customer_id, user_id,
                (0, 0, 0),
            )  # fmt: skip
            assert card.card_number is not None
            plan.new_cards.append(
                (card.id, user_id, customer_id, row.card_number, card.card_number)
            )
            if row.card_number:
                by_number[row.card_number] = card
            by_customer[customer_id] = card
            if user_id:
                by_user[user_id] = card
        elif card.customer_id is None:
            card.customer_id = customer_id  # an app member's card, now known by phone too
            by_customer[customer_id] = card
            plan.linked_cards.append((card.id, customer_id))
        if not entries and (row.balance or row.points):
            note = "member book" + (f" {row.card_number}" if row.card_number else "")
            plan.openings.append((new_id(), card.id, row.points, row.balance, note))
            card.openings = (1, row.balance, row.points)
        outcomes.append(created or new_card)

    if not await customers.add_members(
        session, merchant_id=merchant_id, members=plan.new_customers, now=now
    ):
        raise BatchConflict()
    await customers.refresh_members(session, updates=plan.refreshed)
    if program is not None:
        prog, entry = program
        inserted = await repo.insert_cards(
            {
                "program_id": prog.id,
                "merchant_id": prog.merchant_id,
                "tier_id": entry.id,
                "currency": prog.currency,
            },
            plan.new_cards,
        )
        if inserted != len(plan.new_cards):
            raise BatchConflict()
        await repo.set_customers(plan.linked_cards)
        await repo.post_openings(
            plan.openings, staff_user_id=staff_user_id, rule_version=prog.rule_version
        )
    return outcomes


def _plan_customer(
    plan: _Plan,
    row: MemberRow,
    customer_id: uuid.UUID,
    user_id: uuid.UUID | None,
    created: bool,
    accounts: dict[str, tuple[uuid.UUID, str]],
) -> None:
    """The row's customer write: a new record (named after the account it joins when the book
    gives no name), or the book's name and birthday on the known one."""
    if created:
        account = accounts.get(row.phone)
        account_name = account[1] if account else None
        plan.new_customers.append(
            customers.NewMember(
                id=customer_id,
                phone=row.phone,
                name=row.name or account_name,
                birthday=row.birthday,
                user_id=user_id,
            )
        )
    elif row.name or row.birthday:
        plan.refreshed.append((customer_id, row.name, row.birthday))
