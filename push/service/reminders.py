"""Booking reminders (orders' outbox of due reminders) delivered to the customer's devices.

The reminders stay locked (SELECT … FOR UPDATE SKIP LOCKED) while they are sent and are marked
in the same transaction, so two workers never take the same one. A worker that dies before its
commit leaves them `due`, and they are sent again: at least once, which suits a reminder.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from orders import service as orders_service
from push import repository
from push.service.personal import push_to_devices
from push.service.senders import Outcome, PushSender, ReminderMessage


async def send_booking_reminders(
    session: AsyncSession,
    *,
    sender: PushSender,
    now: datetime,
    limit: int = 100,
    jpush: PushSender | None = None,
) -> int:
    """Send due reminders (FCM devices through `sender`, JPush ones through `jpush`); returns
    how many reached at least one device."""
    due = await orders_service.lock_due_reminders(session, limit=limit)
    if not due:
        return 0
    devices = await repository.DeviceRepository(session).devices_of_users(
        list({r.user_id for r in due})
    )
    sent: list[uuid.UUID] = []
    dropped: list[uuid.UUID] = []
    dead_devices: list[uuid.UUID] = []
    for reminder in due:
        mine = devices.get(reminder.user_id, [])
        if reminder.starts_at <= now or not mine:
            dropped.append(reminder.id)  # too late, or nowhere to send it
            continue
        message = ReminderMessage(
            reference_id=reminder.booking_id,
            merchant_id=reminder.merchant_id,
            kind="booking_reminder",
            title=reminder.title,
            body=reminder.body,
            expires_at=reminder.starts_at,
        )
        outcomes, dead = await push_to_devices(message, mine, sender=sender, jpush=jpush, now=now)
        dead_devices += dead
        if Outcome.SENT in outcomes:
            sent.append(reminder.id)
        elif Outcome.RETRY not in outcomes:
            dropped.append(reminder.id)
        # only retryable failures: it stays `due` and the next round tries again
    await orders_service.mark_reminders_sent(session, reminder_ids=sent, now=now)
    await orders_service.drop_undeliverable_reminders(session, reminder_ids=dropped)
    if dead_devices:
        await repository.DeviceRepository(session).delete_devices_by_id(dead_devices)
    return len(sent)
