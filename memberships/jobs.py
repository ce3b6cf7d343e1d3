"""Background jobs of the memberships package (run by `corner worker`); each opens its own
transactions, one per card for points expiry and tier reviews, so a failure on one card leaves
the others done."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.jobs import JobContext, job
from core.timezones import utcnow
from memberships.repository.cards import CardRepository
from memberships.repository.ledger import LedgerRepository
from memberships.repository.tiers import TierRepository
from memberships.service.cards import QR_TOKEN_TTL, months_ago
from memberships.service.expiry import expire_card_points as expire_one_card
from memberships.service.tiers import review_card_tier


async def expire_points(
    sessionmaker: async_sessionmaker[AsyncSession], *, now: datetime, batch: int = 500
) -> int:
    """One pass over the cards with points due to expire; each card in its own transaction."""
    async with sessionmaker() as session:
        candidates = await LedgerRepository(session).expiry_candidates(now, batch)
    done = 0
    for card_id, months in candidates:
        async with sessionmaker.begin() as session:
            if await expire_one_card(session, card_id=card_id, months=months, now=now):
                done += 1
    return done


@job("expire_card_points", interval_seconds=3600)
async def expire_card_points(ctx: JobContext) -> int:
    return await expire_points(ctx.sessionmaker, now=utcnow())


async def review_tiers(
    sessionmaker: async_sessionmaker[AsyncSession], *, now: datetime, batch: int = 1000
) -> int:
    """One pass of the tier review over every card (`batch` cards scanned per query, each
    card that may change decided in its own transaction under its row lock); the number of
    cards moved. Safe to run twice or concurrently: a second pass finds nothing to do."""
    moved = 0
    after = None
    since = months_ago(now, 12)
    while True:
        async with sessionmaker() as session:
            after, candidates = await TierRepository(session).review_batch(
                after=after, limit=batch, since=since
            )
        for card_id in candidates:
            async with sessionmaker.begin() as session:
                if await review_card_tier(session, card_id=card_id, now=now) is not None:
                    moved += 1
        if after is None:
            return moved


@job("review_card_tiers", interval_seconds=6 * 3600)
async def review_card_tiers(ctx: JobContext) -> int:
    return await review_tiers(ctx.sessionmaker, now=utcnow())


@job("purge_card_qr_token_uses", interval_seconds=3600)
async def purge_card_qr_token_uses(ctx: JobContext) -> int:
    # a used token id only matters while the token could still be presented
    async with ctx.sessionmaker.begin() as session:
        return await CardRepository(session).purge_qr_token_uses(
            utcnow() - QR_TOKEN_TTL - timedelta(hours=1)
        )
