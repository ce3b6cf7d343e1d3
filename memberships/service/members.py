"""Members the app never saw: staff grant a card to a customer, a paper member book comes in,
the counter finds a member by phone, and the app account that later signs in with the phone
takes over the customer records and cards.

Member book invariants:
- a row lands whole (customer, card, opening entry) or not at all, and a refused row does not
  stop the others. Rows go in batches (`BATCH` rows): every check of the batch is decided from
  a few reads (the merchant's records of the phones, the programme's cards of the numbers and
  holders, their opening entries — all row-locked), then each table takes one set-based
  statement for the accepted rows. Should a write meet a row someone else wrote meanwhile (a
  phone added at the counter, a card number taken), the batch's savepoint is rolled back and
  its rows are applied one by one, each in its own savepoint, by the same rules;
- imports of one merchant queue behind each other (a transaction-scoped advisory lock);
- re-importing the same book changes nothing: customers are matched by phone, cards by number
  (Corner's or the book's) or by holder, and a card's opening balance is posted once — a
  different figure on a later import is refused (`opening_balance_differs`), never added;
- opening balances and points enter the ledger as one `opening_balance` entry (principal and
  points), so a card's totals still equal the sum of its ledger.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import islice

from sqlalchemy.ext.asyncio import AsyncSession

from accounts.models import User
from accounts.schemas import mask_phone
from core.errors import DomainError
from core.ids import new_id
from core.lean import connection_of
from customers import service as customers
from memberships import cardnumbers, schemas
from memberships.memberbook import CARD_COLUMNS, MemberRow, Rejected
from memberships.models import Card, Program, Tier
from memberships.repository.cards import CardContext, lock_card
from memberships.repository.members import MemberCardRepository
from memberships.repository.programs import program_with_entry_tier
from memberships.service.cards import card_extras, card_schema, issue_card
from memberships.service.errors import CardExists, ProgramNotFound, ProgramRequired
from memberships.service.ledger import post_entry

REPORTED_REJECTIONS = 1000  # the report lists the first ones; the total counts them all
BATCH = 1000


@dataclass
class MemberImportTally:
    """Counts of a member-book import across batches (the CLI commits batch by batch); keeps
    the first rejected rows only, so a huge book's report stays small."""

    imported: int = 0
    updated: int = 0
    rejected_total: int = 0
    rejected: list[Rejected] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return self.imported + self.updated + self.rejected_total

    def reject(self, rejected: Rejected) -> None:
        self.rejected_total += 1
        if len(self.rejected) < REPORTED_REJECTIONS:
            self.rejected.append(rejected)

    def report(self, limit: int = REPORTED_REJECTIONS) -> schemas.MemberImportReport:
        return schemas.MemberImportReport(
            imported=self.imported,
            updated=self.updated,
            rejected_total=self.rejected_total,
            rejected=[
                schemas.RejectedMemberRow(row=r.row, reason=r.reason, field=r.field)
                for r in self.rejected[:limit]
            ],
        )


async def load_program(
    session: AsyncSession, *, merchant_id: uuid.UUID, program_id: uuid.UUID
) -> tuple[Program, Tier]:
    """The merchant's programme and its entry tier (for new cards)."""
    found = await program_with_entry_tier(await connection_of(session), program_id)
    if found is None or found[0].merchant_id != merchant_id:
        raise ProgramNotFound()
    return found


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
    """Apply rows batch by batch in the caller's transaction (see the module's invariants)."""
    seen = seen_phones if seen_phones is not None else set()
    await MemberCardRepository(session).lock_book(merchant_id)
    for batch in _batches(rows, BATCH):
        accepted: list[MemberRow] = []
        for row in batch:
            if isinstance(row, Rejected):
                tally.reject(row)
            elif row.phone in seen:
                tally.reject(Rejected(row.row, "duplicate_phone", "phone"))
            else:
                seen.add(row.phone)
                accepted.append(row)
        if not accepted:
            continue
        try:
            async with session.begin_nested():
                outcomes = await _apply_batch(
                    session,
                    merchant_id=merchant_id,
                    program=program,
                    rows=accepted,
                    staff_user_id=staff_user_id,
                    now=now,
                )
        except _BatchConflict:
            outcomes = [
                await _apply_alone(
                    session,
                    merchant_id=merchant_id,
                    program=program,
                    row=row,
                    staff_user_id=staff_user_id,
                    now=now,
                )
                for row in accepted
            ]
        for outcome in outcomes:
            if isinstance(outcome, Rejected):
                tally.reject(outcome)
            elif outcome:
                tally.imported += 1
            else:
                tally.updated += 1


def _batches(
    rows: Iterable[MemberRow | Rejected], size: int
) -> Iterator[list[MemberRow | Rejected]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        yield batch


async def _apply_alone(
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


class _BatchConflict(Exception):
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


async def _apply_batch(
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
        raise _BatchConflict()
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
            raise _BatchConflict()
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
    """The accounts phone-verified hook: customer records merchants made with this phone, and
    the cards issued to them, become the account's once it proved the phone by an SMS code
    (api/wiring.py registers it)."""
    linked = await customers.link_customers_to_user(session, user_id=user.id, phone=user.phone)
    await MemberCardRepository(session).link_to_user([cid for _, cid in linked], user.id)
