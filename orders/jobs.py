"""Background jobs of orders: expire unpaid orders, refund paid ones whose validity ended
unused (refund_policy `anytime`), mark booking reminders due."""

from __future__ import annotations

from core.jobs import JobContext, job
from core.timezones import utcnow
from orders import service


@job("expire_unpaid_orders", interval_seconds=30)
async def expire_unpaid_orders(ctx: JobContext) -> int:
    """Unpaid orders past their deadline expire; their coupons and points come back."""
    total = 0
    while True:  # batches, each its own transaction, until nothing is due
        async with ctx.sessionmaker.begin() as session:
            done = await service.expire_due_orders(session, now=utcnow(), limit=200)
        total += done
        if done < 200:
            return total


@job("refund_expired_orders", interval_seconds=300)
async def refund_expired_orders(ctx: JobContext) -> int:
    """Paid orders sold `anytime` (随时退, 过期退) whose validity ended unused are refunded; the
    provider hears of each refund from the payment outbox after the batch commits."""
    total = 0
    while True:  # batches, each its own transaction, until nothing is due
        async with ctx.sessionmaker.begin() as session:
            done = await service.refund_expired_orders(session, now=utcnow(), limit=200)
        total += done
        if done < 200:
            return total


@job("booking_reminders_due", interval_seconds=60)
async def booking_reminders_due(ctx: JobContext) -> int:
    """Reminders whose time has come become `due` for the push sender (merge point: the push
    package's worker takes `due` rows of booking_reminders and marks them `sent`)."""
    async with ctx.sessionmaker.begin() as session:
        return await service.mark_reminders_due(session, now=utcnow())
