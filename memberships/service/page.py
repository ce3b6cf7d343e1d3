"""A merchant's programmes for a shop's page: tiers and rules, top-up bonuses, count cards on
sale and the caller's card, in a fixed number of statements whatever the counts
(memberships.repository.page: programs, tiers, products; with a caller: their cards with
context, 12-month spend and physical number, and their paid passes), on the page's psycopg
connection."""

from __future__ import annotations

import uuid
from datetime import datetime

from core.lean import Connection
from memberships import schemas
from memberships.repository import page
from memberships.service.cards import (
    CardExtras,
    card_schema,
    count_pass_schema,
    months_ago,
    progress_of,
)
from memberships.service.counts import product_schema
from memberships.service.programs import program_schema

MAX_PROGRAMS = 20


async def programs_for_shop_page(
    connection: Connection, *, merchant_id: uuid.UUID, user_id: uuid.UUID | None, now: datetime
) -> list[schemas.ShopProgram]:
    programs = await page.programs_of_merchant(connection, merchant_id, MAX_PROGRAMS)
    ids = [p.id for p in programs]
    if not ids:
        return []
    tiers = await page.tiers_of(connection, ids)
    products = await page.active_products_of(connection, ids)
    cards: dict[uuid.UUID, schemas.Card] = {}
    if user_id is not None:
        found = await page.cards_of_user_in(connection, user_id, ids, months_ago(now, 12))
        passes = await page.paid_passes_of(connection, [c.context.card.id for c in found])
        for c in found:
            card = c.context.card
            extras = CardExtras([count_pass_schema(p, now) for p in passes[card.id]],
                                c.physical_number)  # fmt: skip
            progress = progress_of(c.context, c.spend_since, tiers[card.program_id])
            cards[card.program_id] = card_schema(card, c.context, progress=progress, extras=extras)
    return [
        # validated parts: assembled, not validated again
        schemas.ShopProgram.model_construct(
            **program_schema(p, tiers[p.id]).__dict__,
            count_products=[product_schema(x) for x in products[p.id]],
            my_card=cards.get(p.id),
        )
        for p in programs
    ]
