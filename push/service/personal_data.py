"""The push package's data about a person: listed for the export, erased at deletion (see
push/repository/personal_data.py for which rows and why)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.export import export_tables
from push.repository import personal_data as repo


async def export_personal_data(
    session: AsyncSession, *, user_id: uuid.UUID
) -> dict[str, list[dict[str, Any]]]:
    return await export_tables(session, repo.export_specs(user_id))


async def erase_personal_data(session: AsyncSession, *, user_id: uuid.UUID) -> None:
    await repo.erase(session, user_id)
