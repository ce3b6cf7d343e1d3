"""Idempotent demo data: a few merchants around Jing'an, Shanghai, and their people.

Every row is found by a natural key first, so running it twice changes nothing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from accounts import schemas as account_schemas
from accounts import service as accounts
from accounts.service import UserExists
from core.database import create_engine, create_sessionmaker
from core.settings import Settings

DEMO_PASSWORD = "corner-demo-2026"

DEMO_PEOPLE = [
    ("13800000001", "王老板 (owner)"),
    ("13800000002", "李店员 (clerk)"),
    ("13800000003", "张小姐 (customer)"),
]

DEMO_MERCHANTS = [
    ("老王面馆 Lao Wang Noodles", "13800000001"),
    ("洁净洗衣 Clean Laundry", "13800000001"),
    ("阿强理发 A-Qiang Barber", "13800000001"),
]


async def _user(session: AsyncSession, settings: Settings, phone: str, name: str) -> Any:
    data = account_schemas.UserCreate(phone=phone, password=DEMO_PASSWORD, display_name=name)
    try:
        return await accounts.register_user(session, settings=settings, data=data)
    except UserExists:
        return await accounts.find_user_by_login(session, username=phone)


async def load_demo(settings: Settings) -> dict[str, Any]:
    engine = create_engine(settings, pool_size=2, max_overflow=0)
    try:
        async with create_sessionmaker(engine).begin() as session:
            users = {p: await _user(session, settings, p, n) for p, n in DEMO_PEOPLE}
            owner = users["13800000001"]
            existing = {m.name for m, _ in await accounts.merchants_of(session, user_id=owner.id)}
            created = 0
            for name, owner_phone in DEMO_MERCHANTS:
                if name in existing:
                    continue
                merchant = await accounts.create_merchant(
                    session,
                    owner_id=users[owner_phone].id,
                    data=account_schemas.MerchantCreate(name=name),
                )
                await accounts.add_staff(
                    session,
                    merchant_id=merchant.id,
                    granter_role="owner",
                    data=account_schemas.StaffCreate(phone="13800000002", role="clerk"),
                )
                created += 1
        return {"users": len(users), "merchants_created": created, "password": DEMO_PASSWORD}
    finally:
        await engine.dispose()
