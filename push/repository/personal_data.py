"""The push package's rows about a person: what the export lists and the erasure deletes
(devices, the subscription, location pings and the areas learned from them). Deliveries stay:
they are the merchants' sending records, keyed by the (now pseudonymous) user id."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from push.models import ActivityArea, AreaRecompute, Delivery, Device, LocationPing, Subscription


def export_specs(user_id: uuid.UUID) -> dict[str, Any]:
    return {
        "devices": (Device, Device.user_id == user_id, ()),
        "subscriptions": (Subscription, Subscription.user_id == user_id, ()),
        "location_pings": (LocationPing, LocationPing.user_id == user_id, ()),
        "activity_areas": (ActivityArea, ActivityArea.user_id == user_id, ()),
        "offer_deliveries": (Delivery, Delivery.user_id == user_id, ("lease_until",)),
    }


async def erase(session: AsyncSession, user_id: uuid.UUID) -> None:
    for model in (Device, Subscription, LocationPing, ActivityArea, AreaRecompute):
        await session.execute(delete(model).where(model.user_id == user_id))
