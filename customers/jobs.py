"""Background jobs of the customers package (run by `corner worker`)."""

from __future__ import annotations

from core.jobs import JobContext, job
from core.timezones import utcnow
from customers.service import analytics, followups


@job("customers.refresh_rfm", interval_seconds=3600)
async def refresh_rfm(ctx: JobContext) -> int:
    """Store RFM scores: segment rules and the analytics distribution read them."""
    async with ctx.sessionmaker.begin() as session:
        updated = await analytics.refresh_rfm_scores(session, now=utcnow())
    if updated:
        await analytics.after_rfm_refresh(ctx.sessionmaker)
    return updated


@job("customers.schedule_follow_ups", interval_seconds=600)
async def schedule_follow_ups(ctx: JobContext) -> int:
    """Next task for every customer under an interest-level plan (first-purchase plans are
    scheduled by record_activity at the purchase itself)."""
    async with ctx.sessionmaker.begin() as session:
        return await followups.schedule_interval_plans(session)
