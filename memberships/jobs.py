"""Background jobs of the memberships package (run by `corner worker`)."""

from __future__ import annotations

from datetime import timedelta

from core.jobs import JobContext, job
from core.timezones import utcnow
from memberships.repository.cards import CardRepository
from memberships.service.cards import QR_TOKEN_TTL
from memberships.service.expiry import expire_points


@job("expire_card_points", interval_seconds=3600)
async def expire_card_points(ctx: JobContext) -> int:
    return await expire_points(ctx.sessionmaker, now=utcnow())


@job("purge_card_qr_token_uses", interval_seconds=3600)
async def purge_card_qr_token_uses(ctx: JobContext) -> int:
    # a used token id only matters while the token could still be presented
    async with ctx.sessionmaker.begin() as session:
        return await CardRepository(session).purge_qr_token_uses(
            utcnow() - QR_TOKEN_TTL - timedelta(hours=1)
        )
