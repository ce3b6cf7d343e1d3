"""The orders package's data about a person: listed for the export and erased at deletion
(which rows, and why: orders/repository/personal_data.py)."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from core.export import personal_data_exporter
from orders.repository import personal_data as repo

export_personal_data = personal_data_exporter(repo.export_specs)


async def erase_personal_data(session: AsyncSession, *, user_id: uuid.UUID) -> None:
    await repo.erase(session, user_id)
