"""A merchant's programmes for a shop's page: tiers and rules, top-up bonuses, count cards on
sale and the caller's card, in a fixed number of statements whatever the counts (programs,
tiers, products; with a caller: their cards, the 12-month spend and card extras)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from memberships import schemas
from memberships.repository.cards import CardRepository
from memberships.repository.counts import CountRepository
from memberships.repository.programs import ProgramRepository
from memberships.service.cards import card_extras, card_progress, card_schema
from memberships.service.counts import product_schema
from memberships.service.programs import program_schema

MAX_PROGRAMS = 20


async def programs_for_shop_page(
    session: AsyncSession, *, merchant_id: uuid.UUID, user_id: uuid.UUID | None, now: datetime
) -> list[schemas.ShopProgram]:
    repo = ProgramRepository(session)
    programs = (await repo.list_for_merchant(merchant_id, None, MAX_PROGRAMS))[:MAX_PROGRAMS]
    ids = [p.id for p in programs]
    if not ids:
        return []
    tiers = await repo.tiers(ids)
    products = await CountRepository(session).active_products_of(ids)
    cards: dict[uuid.UUID, schemas.Card] = {}
    if user_id is not None:
        contexts = await CardRepository(session).contexts_for_user_in(user_id, ids)
        progress = await card_progress(session, contexts, now)
        extras = await card_extras(session, [c.card.id for c in contexts], now)
        cards = {
            c.card.program_id: card_schema(
                c.card, c, progress=progress[c.card.id], extras=extras[c.card.id]
            )
            for c in contexts
        }
    return [
        schemas.ShopProgram(
            **program_schema(p, tiers[p.id]).model_dump(),
            count_products=[product_schema(x) for x in products[p.id]],
            my_card=cards.get(p.id),
        )
        for p in programs
    ]
