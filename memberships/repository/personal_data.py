"""The memberships package's rows about a person: cards (without the PIN hash), their
ledgers, top-ups and count passes; all kept under the pseudonymous user id (the ledger is
the merchant's account of stored value)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from memberships.models import Card, CountPass, LedgerEntry, Program, Topup


def export_specs(user_id: uuid.UUID) -> dict[str, Any]:
    cards = select(Card.id).where(Card.user_id == user_id)
    return {
        "cards": (Card, Card.user_id == user_id, ("pin_hash",)),
        "card_ledger": (LedgerEntry, LedgerEntry.card_id.in_(cards), ()),
        "topups": (Topup, Topup.user_id == user_id, ()),
        "count_passes": (CountPass, CountPass.user_id == user_id, ()),
    }


async def cards_with_balance(session: AsyncSession, user_id: uuid.UUID) -> list[tuple[Card, int]]:
    """The user's cards holding stored value with their programme's rule version, the cards
    locked: a top-up landing meanwhile waits for the deletion's decision instead of crediting a
    card about to be forfeited."""
    stmt = (
        select(Card, Program.rule_version)
        .join(Program, Program.id == Card.program_id)
        .where(Card.user_id == user_id, (Card.principal + Card.bonus) > 0)
        .order_by(Card.created_at, Card.id)
        .with_for_update(of=Card)
    )
    return [(row[0], row[1]) for row in await session.execute(stmt)]
