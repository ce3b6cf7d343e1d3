"""Personal messages to one person's devices (booking reminders, service-desk notices,
birthday greetings), SMS to their phone where the channel or a missing device says so.

Every sender here works on rows its caller has locked (SELECT … FOR UPDATE SKIP LOCKED) and
marks them in the same transaction, so two workers never send the same row; a worker that dies
before its commit leaves them pending and they are sent again (at least once).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from accounts import service as accounts_service
from core.sms import SERVICE_DESK, SmsSender, sms_message
from customers import service as customers_service
from push import repository
from push.service.senders import (
    FCM_MAX_TOKENS_PER_CALL,
    LOG_SINK,
    Outcome,
    PushMessage,
    PushSender,
    ReminderMessage,
    sms_outcome,
)

Device = tuple[uuid.UUID, str, str]  # (device id, token, provider)


async def push_to_devices(
    message: PushMessage,
    devices: list[Device],
    *,
    sender: PushSender,
    jpush: PushSender | None,
    now: datetime,
) -> tuple[set[Outcome], list[uuid.UUID]]:
    """Send to FCM devices through `sender`, JPush ones through `jpush` (default the log sink):
    the outcomes seen, and the devices the providers say are gone."""
    outcomes: set[Outcome] = set()
    dead: list[uuid.UUID] = []
    mine = devices[:FCM_MAX_TOKENS_PER_CALL]
    for provider, through in (("fcm", sender), ("jpush", jpush or LOG_SINK)):
        theirs = [d for d in mine if d[2] == provider]
        if not theirs:
            continue
        answers = await through.send(message, [token for _, token, _ in theirs], now)
        outcomes |= {a.outcome for a in answers}
        dead += [
            device_id
            for (device_id, _, _), a in zip(theirs, answers, strict=True)
            if a.outcome is Outcome.UNREGISTERED
        ]
    return outcomes, dead


async def sms_to_user(
    session: AsyncSession, sms: SmsSender, user_id: uuid.UUID, kind: str, params: dict[str, str]
) -> Outcome:
    """An SMS of `kind` to the user's phone: FAILED when they have none."""
    try:
        phone = (await accounts_service.get_user(session, user_id=user_id)).phone
    except accounts_service.UserNotFound:
        phone = None
    if not phone:
        return Outcome.FAILED
    return sms_outcome(await sms.send(sms_message(phone, kind, params))).outcome


async def send_service_desk_notices(
    session: AsyncSession,
    *,
    sender: PushSender,
    sms: SmsSender,
    now: datetime,
    jpush: PushSender | None = None,
    limit: int = 100,
) -> int:
    """Send the customers package's pending notices (an escalated complaint, to each manager):
    push to the person's devices, SMS to their phone when they have none or every device
    refused; retryable failures stay pending for the next round. Returns how many were sent."""
    due = await customers_service.lock_pending_notices(session, limit=limit)
    if not due:
        return 0
    devices = await repository.DeviceRepository(session).devices_of_users(
        list({n.user_id for n in due})
    )
    sent: dict[str, list[uuid.UUID]] = {"push": [], "sms": []}
    failed: list[uuid.UUID] = []
    dead_devices: list[uuid.UUID] = []
    for notice in due:
        mine = devices.get(notice.user_id, [])
        if mine:
            message = ReminderMessage(
                reference_id=notice.complaint_id,
                merchant_id=notice.merchant_id,
                kind=notice.kind,
                title=notice.title,
                body=notice.body,
                expires_at=now + timedelta(days=1),
            )
            outcomes, dead = await push_to_devices(
                message, mine, sender=sender, jpush=jpush, now=now
            )
            dead_devices += dead
            if Outcome.SENT in outcomes:
                sent["push"].append(notice.id)
                continue
            if Outcome.RETRY in outcomes:
                continue
        params = {"title": notice.title, "body": notice.body}
        outcome = await sms_to_user(session, sms, notice.user_id, SERVICE_DESK, params)
        if outcome is Outcome.SENT:
            sent["sms"].append(notice.id)
        elif outcome is not Outcome.RETRY:
            failed.append(notice.id)
    await customers_service.finish_notices(session, sent=sent, failed=failed, now=now)
    if dead_devices:
        await repository.DeviceRepository(session).delete_devices_by_id(dead_devices)
    return len(sent["push"]) + len(sent["sms"])
