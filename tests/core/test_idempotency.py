"""Idempotency keys under real concurrency: many sessions racing with one key."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from accounts.models import Merchant
from core.errors import IdempotencyKeyReused
from core.idempotency import run_idempotent


class Created(BaseModel):
    id: uuid.UUID


async def _attempt(sessionmaker: async_sessionmaker[AsyncSession], key: str, body: dict) -> bytes:
    async with sessionmaker.begin() as session:

        async def create() -> Created:
            merchant = Merchant(name=body["name"], timezone="Asia/Shanghai")
            session.add(merchant)
            await session.flush()
            await asyncio.sleep(0.01)  # widen the race window
            return Created(id=merchant.id)

        response = await run_idempotent(session, key=key, scope="test", payload=body,
                                        status_code=201, run=create)  # fmt: skip
        return bytes(response.body)


async def test_same_key_runs_once_under_concurrency(sessionmaker) -> None:  # type: ignore[no-untyped-def]
    bodies = await asyncio.gather(
        *(_attempt(sessionmaker, "key-1", {"name": "one"}) for _ in range(20))
    )
    assert len(set(bodies)) == 1
    async with sessionmaker() as session:
        count = (await session.execute(select(func.count()).select_from(Merchant))).scalar_one()
    assert count == 1


async def test_same_key_other_body_is_refused(sessionmaker) -> None:  # type: ignore[no-untyped-def]
    await _attempt(sessionmaker, "key-2", {"name": "one"})
    with pytest.raises(IdempotencyKeyReused):
        await _attempt(sessionmaker, "key-2", {"name": "two"})
    # another key is independent
    await _attempt(sessionmaker, "key-3", {"name": "two"})
