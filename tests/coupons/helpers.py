"""Helpers for the coupons tests: a merchant with a shop and a published campaign."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from accounts import schemas as account_schemas
from accounts import service as accounts_service
from accounts.security import create_access_token
from core.settings import Settings
from coupons.models import Coupon
from tests.helpers import Actor, ApiClient, create_shop, fresh_phone


@dataclass
class Shopfront:
    owner: Actor
    merchant_id: str
    shop_id: str
    clerk: Actor


def iso(moment: datetime) -> str:
    return moment.isoformat()


def campaign_body(**overrides: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    body: dict[str, Any] = {
        "name": "开业满50减10",
        "discount": {"kind": "amount_off", "value": {"amount": 1000, "currency": "CNY"}},
        "min_spend": {"amount": 5000, "currency": "CNY"},
        "valid_from": iso(now - timedelta(hours=1)),
        "valid_until": iso(now + timedelta(days=7)),
        "total_quantity": 100,
    }
    body.update(overrides)
    return body


async def shopfront(client: ApiClient, name: str = "老王面馆") -> Shopfront:
    owner = await client.register()
    merchant = await client.merchant(owner, name=name)
    shop = await create_shop(client, owner, merchant["id"])
    clerk = await client.staff(owner, merchant["id"], "clerk")
    return Shopfront(owner, merchant["id"], shop["id"], clerk)


async def published_campaign(
    client: ApiClient, front: Shopfront, **overrides: Any
) -> dict[str, Any]:
    r = await client.post(
        f"/v1/merchants/{front.merchant_id}/campaigns",
        json=campaign_body(**overrides),
        headers=front.owner.headers,
    )
    assert r.status_code == 201, r.text
    r = await client.post(f"/v1/campaigns/{r.json()['id']}/publish", headers=front.owner.headers)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def claim(client: ApiClient, campaign_id: str, actor: Actor) -> dict[str, Any]:
    r = await client.post(f"/v1/campaigns/{campaign_id}/claim", headers=actor.headers)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def fast_users(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, count: int
) -> list[Actor]:
    """Many users without the HTTP round trips (password hashing is cheap in tests)."""
    actors: list[Actor] = []
    now = datetime.now(UTC)
    async with sessionmaker.begin() as session:
        for _ in range(count):
            phone = fresh_phone()
            user = await accounts_service.register_user(
                session,
                settings=settings,
                data=account_schemas.UserCreate(
                    phone=phone, password="s3cret-pass", display_name="顾客"
                ),
            )
            token = create_access_token(settings, user.id, now)
            actors.append(Actor(str(user.id), phone, token, ""))
    return actors


async def move_coupon_window(
    sessionmaker: async_sessionmaker[AsyncSession],
    coupon_id: str,
    *,
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
) -> None:
    values: dict[str, Any] = {}
    if valid_from is not None:
        values["valid_from"] = valid_from
    if valid_until is not None:
        values["valid_until"] = valid_until
    async with sessionmaker.begin() as session:
        await session.execute(
            update(Coupon).where(Coupon.id == uuid.UUID(coupon_id)).values(**values)
        )
