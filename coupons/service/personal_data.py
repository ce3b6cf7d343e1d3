"""The coupons package's data about a person, for the export (coupons/repository/personal_data.py
says which rows); nothing here is erased, since nothing in it names the person."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.export import export_tables
from coupons.repository import personal_data as repo


async def export_personal_data(
    session: AsyncSession, *, user_id: uuid.UUID
) -> dict[str, list[dict[str, Any]]]:
    return await export_tables(session, repo.export_specs(user_id))
