"""Booking reminders (orders' outbox) go out through the real firebase-admin client."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.timezones import utcnow, zone
from orders import service as orders_service
from push.service.reminders import send_booking_reminders
from push.service.senders import Senders
from tests.helpers import ApiClient
from tests.orders.helpers import make_store
from tests.push.fake_fcm import FakeFcmServer


async def test_due_reminders_are_sent_once_and_undeliverable_ones_dropped(
    client: ApiClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    fake_fcm: FakeFcmServer,
    fcm_senders: Senders,
) -> None:
    store = await make_store(client)
    with_phone, without_phone = store.customer, await client.register()
    device = {"token": "tok-reminder-0123456789", "platform": "ios"}
    r = await client.post("/v1/me/devices", json=device, headers=with_phone.headers)
    assert r.status_code == 201, r.text
    shanghai = zone("Asia/Shanghai")
    day = (utcnow().astimezone(shanghai) + timedelta(days=1)).date()
    for who, hour in ((with_phone, 10), (without_phone, 11)):
        starts = datetime(day.year, day.month, day.day, hour, tzinfo=shanghai)
        r = await client.post(f"/v1/shops/{store.shop_id}/bookings", headers=who.headers,
                              json={"offering_id": store.haircut["id"],
                                    "starts_at": starts.isoformat()})  # fmt: skip
        assert r.status_code == 201, r.text

    # reminders are due two hours ahead: at 08:30 only the 10:00 booking's
    now = datetime(day.year, day.month, day.day, 8, 30, tzinfo=shanghai)
    async with sessionmaker.begin() as session:
        assert await orders_service.mark_reminders_due(session, now=now) == 1
        assert await send_booking_reminders(session, sender=fcm_senders.push, now=now) == 1
    [request] = fake_fcm.state.requests
    assert request["message"]["token"] == "tok-reminder-0123456789"
    assert request["message"]["data"]["type"] == "booking_reminder"

    later = now + timedelta(hours=1)  # 09:30: the 11:00 booking's reminder is due too
    async with sessionmaker.begin() as session:
        assert await orders_service.mark_reminders_due(session, now=later) == 1
        assert await send_booking_reminders(session, sender=fcm_senders.push, now=later) == 0
        statuses = (await session.execute(text(
            "SELECT status, count(*) FROM booking_reminders GROUP BY status ORDER BY status"
        ))).all()  # fmt: skip
    # the first went out once; the second had no device to go to and is not retried
    assert [tuple(s) for s in statuses] == [("cancelled", 1), ("sent", 1)]
    assert len(fake_fcm.state.requests) == 1
