"""Helpers for the customers tests: make people customers of a merchant through events."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from customers.service import record_activity
from tests.helpers import Actor, ApiClient

Event = tuple[str, datetime, int]  # kind, at, spend


async def report(
    sessionmaker: async_sessionmaker[AsyncSession],
    merchant_id: str,
    user_id: str,
    events: list[Event],
    **extra: Any,
) -> uuid.UUID:
    customer_id = None
    async with sessionmaker.begin() as session:
        for kind, at, spend in events:
            customer_id = await record_activity(
                session,
                merchant_id=uuid.UUID(merchant_id),
                user_id=uuid.UUID(user_id),
                kind=kind,  # type: ignore[arg-type]
                at=at,
                spend=spend,
                **extra,
            )
    assert customer_id is not None
    return customer_id


async def customer(
    client: ApiClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    merchant_id: str,
    events: list[Event],
    *,
    name: str = "张三",
    **extra: Any,
) -> tuple[Actor, str]:
    person = await client.register(name=name)
    customer_id = await report(sessionmaker, merchant_id, person.user_id, events, **extra)
    return person, str(customer_id)


async def shop_with_owner(client: ApiClient, **extra: Any) -> tuple[Actor, str]:
    owner = await client.register(name="老板")
    merchant = await client.merchant(owner, **extra)
    return owner, merchant["id"]
