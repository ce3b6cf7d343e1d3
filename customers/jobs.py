"""Background jobs of the customers package (run by `corner worker`)."""

from __future__ import annotations

from core.jobs import JobContext, job
from core.timezones import utcnow
from customers.service import analytics, desk, followups


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


@job("customers.escalate_complaints", interval_seconds=300)
async def escalate_complaints(ctx: JobContext) -> int:
    """Open complaints past their due time: `escalated_at` once, a notice to each manager
    (push's `push_service_desk_notices` sends them)."""
    async with ctx.sessionmaker.begin() as session:
        return await desk.escalate_overdue_complaints(session, now=utcnow())


@job("customers.churn_follow_ups", interval_seconds=3600)
async def churn_follow_ups(ctx: JobContext) -> int:
    """A follow-up task for each customer who turned churn-risk since their last visit."""
    async with ctx.sessionmaker.begin() as session:
        return await desk.schedule_churn_follow_ups(session, now=utcnow())
