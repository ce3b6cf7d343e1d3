"""Push registrations of a user's app installs (FCM tokens, JPush registration ids)."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from push import repository, schemas
from push.service.errors import DeviceNotFound


async def register_device(
    session: AsyncSession, *, user_id: uuid.UUID, data: schemas.DeviceCreate
) -> schemas.Device:
    """Upsert by token: a token seen again (after a reinstall or a new sign-in) moves here."""
    device = await repository.DeviceRepository(session).upsert_device(
        user_id=user_id, token=data.token, platform=data.platform, provider=data.provider
    )
    return schemas.Device(
        id=device.id,
        platform=device.platform,  # type: ignore[arg-type]
        provider=device.provider,  # type: ignore[arg-type]
        created_at=device.created_at,
        updated_at=device.updated_at,
    )


async def remove_device(session: AsyncSession, *, user_id: uuid.UUID, token: str) -> None:
    if not await repository.DeviceRepository(session).delete_device(user_id=user_id, token=token):
        raise DeviceNotFound()


async def forget_dead_devices(session: AsyncSession, *, device_ids: list[uuid.UUID]) -> int:
    """Tokens FCM reported UNREGISTERED or invalid will never work again."""
    return await repository.DeviceRepository(session).delete_devices_by_id(device_ids)
