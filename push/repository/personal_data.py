"""The push package's rows about a person: what the export lists and the erasure deletes
(devices, the subscription, location pings and the areas learned from them, birthday
greetings, whose date is the birthday). Deliveries stay:
they are the merchants' sending records, keyed by the (now pseudonymous) user id."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import column, delete, select, table
from sqlalchemy.ext.asyncio import AsyncSession

from push.models import (
    ActivityArea,
    AreaRecompute,
    BirthdayGreeting,
    Delivery,
    Device,
    LocationPing,
    Subscription,
)

# the person's customer records (the customers package's table, read by reference only)
_customers = table("customers", column("id"), column("user_id"))


def _greetings_of(user_id: uuid.UUID) -> Any:
    mine = select(_customers.c.id).where(_customers.c.user_id == user_id)
    return BirthdayGreeting.customer_id.in_(mine)


def export_specs(user_id: uuid.UUID) -> dict[str, Any]:
    return {
        "devices": (Device, Device.user_id == user_id, ()),
        "subscriptions": (Subscription, Subscription.user_id == user_id, ()),
        "location_pings": (LocationPing, LocationPing.user_id == user_id, ()),
        "activity_areas": (ActivityArea, ActivityArea.user_id == user_id, ()),
        "offer_deliveries": (Delivery, Delivery.user_id == user_id, ("lease_until",)),
        "birthday_greetings": (BirthdayGreeting, _greetings_of(user_id), ()),
    }


async def erase(session: AsyncSession, user_id: uuid.UUID) -> None:
    for model in (Device, Subscription, LocationPing, ActivityArea, AreaRecompute):
        await session.execute(delete(model).where(model.user_id == user_id))
    # a greeting's date is the person's birthday
    await session.execute(delete(BirthdayGreeting).where(_greetings_of(user_id)))
