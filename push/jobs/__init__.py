"""Background jobs of the push package, run by `corner worker` (`outbox`: the dispatcher and
the stream consumers, which open their own transactions)."""

from __future__ import annotations

from datetime import timedelta

from core.jobs import JobContext, job
from core.timezones import utcnow
from push import service
from push.jobs.outbox import Consumer, dispatch_due
from push.service.birthdays import send_birthday_greetings
from push.service.personal import send_service_desk_notices
from push.service.reminders import send_booking_reminders
from push.service.senders import build_senders

_consumers: dict[int, Consumer] = {}


def consumer_for(ctx: JobContext) -> Consumer:
    """One consumer (and one FCM client) per worker process and context."""
    found = _consumers.get(id(ctx))
    if found is None:
        found = Consumer(ctx.sessionmaker, ctx.redis, ctx.settings, build_senders(ctx.settings))
        _consumers[id(ctx)] = found
    return found


@job("push_dispatch_outbox", interval_seconds=0.5)
async def push_dispatch_outbox(ctx: JobContext) -> int:
    return await dispatch_due(
        ctx.sessionmaker, ctx.redis, stream=ctx.settings.push_queue_stream, now=utcnow()
    )


@job("push_send", interval_seconds=0)
async def push_send(ctx: JobContext) -> int:
    # blocks up to a second on the stream, so this loop does not spin
    return await consumer_for(ctx).run_once(block_ms=1000)


@job("push_booking_reminders", interval_seconds=30)
async def push_booking_reminders(ctx: JobContext) -> int:
    async with ctx.sessionmaker.begin() as session:
        senders = consumer_for(ctx).senders
        return await send_booking_reminders(
            session, sender=senders.push, jpush=senders.jpush, now=utcnow()
        )


@job("push_service_desk_notices", interval_seconds=30)
async def push_service_desk_notices(ctx: JobContext) -> int:
    """Escalated complaints' notices to the managers (push, else SMS)."""
    async with ctx.sessionmaker.begin() as session:
        senders = consumer_for(ctx).senders
        return await send_service_desk_notices(
            session, sender=senders.push, sms=senders.sms, jpush=senders.jpush, now=utcnow()
        )


@job("push_birthday_greetings", interval_seconds=3600)
async def push_birthday_greetings(ctx: JobContext) -> int:
    """Birthday coupons and messages due today in each merchant's timezone."""
    async with ctx.sessionmaker.begin() as session:
        senders = consumer_for(ctx).senders
        return await send_birthday_greetings(
            session, sender=senders.push, sms=senders.sms, jpush=senders.jpush, now=utcnow()
        )


@job("push_learn_areas", interval_seconds=30)
async def push_learn_areas(ctx: JobContext) -> int:
    retention = timedelta(days=ctx.settings.push_location_retention_days)
    async with ctx.sessionmaker.begin() as session:
        return await service.learn_pending_areas(session, now=utcnow(), retention=retention)


@job("push_location_retention", interval_seconds=3600)
async def push_location_retention(ctx: JobContext) -> int:
    retention = timedelta(days=ctx.settings.push_location_retention_days)
    async with ctx.sessionmaker.begin() as session:
        return await service.purge_expired_locations(session, now=utcnow(), retention=retention)
