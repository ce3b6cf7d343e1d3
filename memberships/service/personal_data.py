"""A person's membership data for the export, and their stored value at account deletion:
deletion is refused while a card holds a balance, unless the holder forfeits it, which the
ledger records (an `adjustment` entry per card taking principal and bonus to zero)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.export import personal_data_exporter
from core.money import Money
from memberships.repository import personal_data as repo
from memberships.service.ledger import post_entry

FORFEIT_NOTE = "forfeited: the holder deleted their account"


export_personal_data = personal_data_exporter(repo.export_specs)


async def stored_value(session: AsyncSession, *, user_id: uuid.UUID) -> list[dict[str, Any]]:
    """Cards with a balance left: `{card_id, program_id, merchant_id, card_number, balance}`."""
    return [
        {
            "card_id": str(card.id),
            "program_id": str(card.program_id),
            "merchant_id": str(card.merchant_id),
            "card_number": card.card_number,
            "balance": Money.of(card.principal + card.bonus, card.currency).model_dump(),
        }
        for card, _ in await repo.cards_with_balance(session, user_id)
    ]


async def forfeit_stored_value(session: AsyncSession, *, user_id: uuid.UUID) -> int:
    """Take every balance of the user's cards to zero through the ledger; the cards count."""
    cards = await repo.cards_with_balance(session, user_id)
    for card, rule_version in cards:
        await post_entry(
            session,
            card=card,
            kind="adjustment",
            rule_version=rule_version,
            principal=-card.principal,
            bonus=-card.bonus,
            note=FORFEIT_NOTE,
        )
    return len(cards)
