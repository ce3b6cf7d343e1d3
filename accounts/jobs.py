"""Background jobs of the accounts package."""

from __future__ import annotations

from accounts.repository import delete_expired_refresh_tokens
from core.jobs import JobContext, job
from core.timezones import utcnow


@job("purge_expired_refresh_tokens", interval_seconds=3600)
async def purge_expired_refresh_tokens(ctx: JobContext) -> int:
    async with ctx.sessionmaker.begin() as session:
        return await delete_expired_refresh_tokens(session, utcnow())
