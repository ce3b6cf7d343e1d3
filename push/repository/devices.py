"""Devices: registration tokens of users' phones."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from push.models import Device


class DeviceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def upsert_device(
        self, *, user_id: uuid.UUID, token: str, platform: str, provider: str = "fcm"
    ) -> Device:
        stmt = (
            insert(Device)
            .values(
                id=uuid.uuid4(), user_id=user_id, token=token, platform=platform, provider=provider
            )
            .on_conflict_do_update(
                index_elements=[Device.token],
                set_={
                    "user_id": user_id,
                    "platform": platform,
                    "provider": provider,
                    "updated_at": func.now(),
                },
            )
            .returning(Device)
        )
        return (await self.session.execute(stmt)).scalar_one()

    async def delete_device(self, *, user_id: uuid.UUID, token: str) -> int:
        stmt = delete(Device).where(Device.user_id == user_id, Device.token == token)
        return (await self.session.execute(stmt)).rowcount  # type: ignore[attr-defined, no-any-return]

    async def delete_devices_by_id(self, device_ids: list[uuid.UUID]) -> int:
        if not device_ids:
            return 0
        stmt = delete(Device).where(Device.id.in_(device_ids))
        return (await self.session.execute(stmt)).rowcount  # type: ignore[attr-defined, no-any-return]

    async def devices_of_users(
        self, user_ids: list[uuid.UUID]
    ) -> dict[uuid.UUID, list[tuple[uuid.UUID, str, str]]]:
        """(device id, token, provider) of each user's registered devices."""
        rows = await self.session.execute(
            select(Device.user_id, Device.id, Device.token, Device.provider)
            .where(Device.user_id.in_(user_ids))
            .order_by(Device.user_id, Device.id)
        )
        found: dict[uuid.UUID, list[tuple[uuid.UUID, str, str]]] = {}
        for user_id, device_id, token, provider in rows.all():
            found.setdefault(user_id, []).append((device_id, token, provider))
        return found
