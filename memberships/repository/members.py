"""Queries for cards of customers staff added (walk-ins, member books) and their lookup."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from memberships.models import Card, LedgerEntry
from memberships.repository.cards import CardContext, cards_with_context

# a batch of opening entries: each card's totals and its entry with the totals after it, in one
# statement (the member book's `post_entry`, for many cards at once)
_POST_OPENINGS = text(
    """
    WITH v AS (
        SELECT * FROM unnest(CAST(:entry_ids AS uuid[]), CAST(:card_ids AS uuid[]),
                             CAST(:points AS bigint[]), CAST(:principal AS bigint[]),
                             CAST(:notes AS text[]))
                      AS t(entry_id, card_id, points, principal, note)
    ), card AS (
        UPDATE cards c
        SET points = c.points + v.points, principal = c.principal + v.principal,
            updated_at = now()
        FROM v WHERE c.id = v.card_id
        RETURNING c.id, c.merchant_id, c.currency, c.points, c.principal, c.bonus
    )
    INSERT INTO card_ledger (id, card_id, merchant_id, kind, points_delta, principal_delta,
                             bonus_delta, points_after, principal_after, bonus_after, currency,
                             spend_delta, staff_user_id, note, uses_delta, rule_version)
    SELECT v.entry_id, card.id, card.merchant_id, 'opening_balance', v.points, v.principal, 0,
           card.points, card.principal, card.bonus, card.currency, 0, :staff_user_id, v.note, 0,
           :rule_version
    FROM v JOIN card ON card.id = v.card_id
    RETURNING id
    """
)
# joins with the batch's values, not `IN (…1000 parameters)` lists: a prepared statement's
# generic plan of those scans the table comparing each row with every parameter
_CARDS_FOR_BOOK = text(
    """
    SELECT c.id, c.card_number, c.legacy_number, c.customer_id, c.user_id
    FROM cards c
    WHERE c.id IN (
        SELECT x.id FROM unnest(CAST(:numbers AS text[])) AS n(v)
        JOIN cards x ON x.card_number = n.v
        UNION
        SELECT x.id FROM unnest(CAST(:numbers AS text[])) AS n(v)
        JOIN cards x ON x.program_id = :program_id AND x.legacy_number = n.v
        UNION
        SELECT x.id FROM unnest(CAST(:customers AS uuid[])) AS k(v)
        JOIN cards x ON x.program_id = :program_id AND x.customer_id = k.v
        UNION
        SELECT x.id FROM unnest(CAST(:users AS uuid[])) AS u(v)
        JOIN cards x ON x.program_id = :program_id AND x.user_id = u.v
    ) AND c.program_id = :program_id
    ORDER BY c.id
    FOR UPDATE
    """
)
_OPENINGS = text(
    """
    SELECT l.card_id, count(*), sum(l.principal_delta + l.bonus_delta), sum(l.points_delta)
    FROM unnest(CAST(:card_ids AS uuid[])) AS k(v)
    JOIN card_ledger l ON l.card_id = k.v AND l.kind = 'opening_balance'
    GROUP BY l.card_id
    """
)
_INSERT_CARDS = text(
    """
    INSERT INTO cards (id, program_id, merchant_id, user_id, customer_id, legacy_number,
                       card_number, tier_id, currency)
    SELECT t.id, :program_id, :merchant_id, t.user_id, t.customer_id, t.legacy_number,
           t.card_number, :tier_id, :currency
    FROM unnest(CAST(:ids AS uuid[]), CAST(:users AS uuid[]), CAST(:customers AS uuid[]),
                CAST(:legacy AS text[]), CAST(:numbers AS text[]))
         AS t(id, user_id, customer_id, legacy_number, card_number)
    ON CONFLICT DO NOTHING
    RETURNING id
    """
)
_SET_CUSTOMERS = text(
    """
    UPDATE cards c SET customer_id = t.customer_id, updated_at = now()
    FROM unnest(CAST(:ids AS uuid[]), CAST(:customers AS uuid[])) AS t(id, customer_id)
    WHERE c.id = t.id AND c.customer_id IS NULL
    """
)


class MemberCardRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_number(self, program_id: uuid.UUID, number: str) -> Card | None:
        """The programme's card with this Corner number or member-book number, row-locked."""
        stmt = (
            select(Card)
            .where(
                Card.program_id == program_id,
                or_(Card.card_number == number, Card.legacy_number == number),
            )
            .order_by(Card.card_number == number)  # a Corner number wins over a book number
            .limit(1)
            .with_for_update()
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def of_holder(
        self, program_id: uuid.UUID, customer_id: uuid.UUID, user_id: uuid.UUID | None
    ) -> Card | None:
        """The holder's card in the programme (by customer record or app account), locked."""
        holder = Card.customer_id == customer_id
        if user_id is not None:
            holder = or_(holder, Card.user_id == user_id)
        stmt = select(Card).where(Card.program_id == program_id, holder).limit(1)
        return (await self.session.execute(stmt.with_for_update())).scalar_one_or_none()

    async def lock_book(self, merchant_id: uuid.UUID) -> None:
        """Member-book imports of one merchant queue behind each other until the holder's
        transaction ends (two at once would both see a phone as new)."""
        await self.session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
            {"key": f"member_book:{merchant_id}"},
        )

    async def cards_for_book(
        self,
        program_id: uuid.UUID,
        *,
        numbers: list[str],
        customer_ids: list[uuid.UUID],
        user_ids: list[uuid.UUID],
    ) -> list[Any]:
        """(id, card_number, legacy_number, customer_id, user_id) of the programme's cards a
        batch of rows may touch — by either number, by customer record or by account —
        row-locked."""
        if not (numbers or customer_ids or user_ids):
            return []
        params = {
            "program_id": program_id,
            "numbers": numbers,
            "customers": customer_ids,
            "users": user_ids,
        }
        return list(await self.session.execute(_CARDS_FOR_BOOK, params))

    async def openings_of(self, card_ids: list[uuid.UUID]) -> dict[uuid.UUID, tuple[int, int, int]]:
        """Card → (entries, balance, points) its opening_balance entries brought."""
        if not card_ids:
            return {}
        rows = await self.session.execute(_OPENINGS, {"card_ids": card_ids})
        return {row[0]: (int(row[1]), int(row[2]), int(row[3])) for row in rows}

    async def insert_cards(self, values: dict[str, Any], rows: list[tuple[Any, ...]]) -> int:
        """New cards (id, user_id, customer_id, legacy_number, card_number) of one programme
        and entry tier (`values`); how many were inserted (a conflict skips the row)."""
        if not rows:
            return 0
        ids, users, customers, legacy, numbers = (list(col) for col in zip(*rows, strict=True))
        result = await self.session.execute(_INSERT_CARDS, {
            **values, "ids": ids, "users": users, "customers": customers, "legacy": legacy,
            "numbers": numbers,
        })  # fmt: skip
        return len(result.all())

    async def set_customers(self, pairs: list[tuple[uuid.UUID, uuid.UUID]]) -> None:
        """(card, customer record): app members' cards now known by phone too."""
        if pairs:
            ids, customers = (list(col) for col in zip(*pairs, strict=True))
            await self.session.execute(_SET_CUSTOMERS, {"ids": ids, "customers": customers})

    async def post_openings(
        self,
        rows: list[tuple[uuid.UUID, uuid.UUID, int, int, str]],
        *,
        staff_user_id: uuid.UUID | None,
        rule_version: int,
    ) -> int:
        """Opening entries (entry id, card id, points, principal, note), each with the card's
        totals in the same statement; how many were posted."""
        if not rows:
            return 0
        entry_ids, card_ids, points, principal, notes = (
            list(col) for col in zip(*rows, strict=True)
        )
        result = await self.session.execute(_POST_OPENINGS, {
            "entry_ids": entry_ids, "card_ids": card_ids, "points": points,
            "principal": principal, "notes": notes, "staff_user_id": staff_user_id,
            "rule_version": rule_version,
        })  # fmt: skip
        return len(result.all())

    async def opening_totals(self, card_id: uuid.UUID) -> tuple[int, int, int]:
        """(entries, balance, points) the card's opening_balance entries brought."""
        stmt = select(
            func.count(),
            func.coalesce(func.sum(LedgerEntry.principal_delta + LedgerEntry.bonus_delta), 0),
            func.coalesce(func.sum(LedgerEntry.points_delta), 0),
        ).where(LedgerEntry.card_id == card_id, LedgerEntry.kind == "opening_balance")
        row = (await self.session.execute(stmt)).one()
        return int(row[0]), int(row[1]), int(row[2])

    async def contexts_of_holders(
        self,
        merchant_id: uuid.UUID,
        customer_ids: list[uuid.UUID],
        user_ids: list[uuid.UUID],
    ) -> list[CardContext]:
        conditions: list[Any] = [Card.customer_id.in_(customer_ids)]
        if user_ids:
            conditions.append(Card.user_id.in_(user_ids))
        stmt = (
            cards_with_context()
            .where(Card.merchant_id == merchant_id, or_(*conditions))
            .order_by(Card.created_at, Card.id)
        )
        return [CardContext(r[0], r[1], r[2], r[3]) for r in await self.session.execute(stmt)]

    async def link_to_user(self, customer_ids: list[uuid.UUID], user_id: uuid.UUID) -> int:
        """Cards staff issued to these (now linked) customers become the user's too (but not
        a second card of a programme the user already holds)."""
        if not customer_ids:
            return 0
        own = Card.__table__.alias("own")
        result = await self.session.execute(
            update(Card)
            .where(
                Card.customer_id.in_(customer_ids),
                Card.user_id.is_(None),
                ~select(own.c.id)
                .where(own.c.program_id == Card.program_id, own.c.user_id == user_id)
                .exists(),
            )
            .values(user_id=user_id, updated_at=func.now())
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
