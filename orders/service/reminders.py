"""Booking reminders through an outbox: due reminders are locked by the push package's
worker, sent, and marked in the worker's transaction (so a crash resends, never loses)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from orders.repository import ReminderRepository


@dataclass(frozen=True)
class DueReminder:
    id: uuid.UUID
    booking_id: uuid.UUID
    merchant_id: uuid.UUID
    user_id: uuid.UUID
    title: str
    body: str
    starts_at: datetime


async def lock_due_reminders(session: AsyncSession, *, limit: int = 100) -> list[DueReminder]:
    """Reminders to send now, locked for the caller's transaction (the push package sends
    them and calls `mark_reminders_sent` before it commits)."""
    rows = await ReminderRepository(session).lock_due(limit)
    return [
        DueReminder(r.id, r.booking_id, r.merchant_id, r.user_id, r.title, r.body, starts)
        for r, starts in rows
    ]


async def mark_reminders_sent(
    session: AsyncSession, *, reminder_ids: list[uuid.UUID], now: datetime
) -> None:
    if reminder_ids:
        await ReminderRepository(session).finish_due(reminder_ids, "sent", now)


async def drop_undeliverable_reminders(
    session: AsyncSession, *, reminder_ids: list[uuid.UUID]
) -> None:
    """No device took it, or the booking has begun: the reminder is cancelled, not retried."""
    if reminder_ids:
        await ReminderRepository(session).finish_due(reminder_ids, "cancelled", None)


async def mark_reminders_due(session: AsyncSession, *, now: datetime, limit: int = 500) -> int:
    return await ReminderRepository(session).mark_due(now, limit)
