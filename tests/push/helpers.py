"""Helpers of the push tests (imported by test modules; fixtures are in conftest.py)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.settings import Settings
from core.timezones import utcnow
from push.jobs.outbox import Consumer, dispatch_due
from push.service.senders import Senders
from tests.helpers import Actor, ApiClient, create_shop

# Jing'an, Shanghai: the shop, and points at known distances from it
SHOP = {"lat": 31.2304, "lng": 121.4737}


def offset(lat_m: float = 0.0, lng_m: float = 0.0) -> dict[str, float]:
    """A point `lat_m` metres north and `lng_m` metres east of the shop."""
    return {
        "lat": SHOP["lat"] + lat_m / 111_320,
        "lng": SHOP["lng"] + lng_m / (111_320 * 0.8549),  # cos(31.23°)
    }


class Pipeline:
    """Drives the worker's steps by hand: dispatch due outbox rows, consume the stream."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        redis: Redis,
        settings: Settings,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.redis = redis
        self.settings = settings

    def consumer(
        self, senders: Senders, settings: Settings | None = None, **kwargs: Any
    ) -> Consumer:
        kwargs.setdefault("backoff_base_seconds", 0.01)
        return Consumer(self.sessionmaker, self.redis, settings or self.settings, senders, **kwargs)

    def short_lease(self) -> Settings:
        """Leases of 0.2 s, idle stream entries reclaimed at once (the dead-worker tests)."""
        return self.settings.model_copy(
            update={"push_send_lease_seconds": 0.2, "push_reclaim_idle_seconds": 0}
        )

    async def claim_as_dead_worker(self, senders: Senders) -> tuple[Consumer, Any]:
        """A worker that reads one stream entry and claims its batch (committed) under a
        short lease, then is never heard of again unless the test says so: (it, the batch)."""
        dead = self.consumer(senders, settings=self.short_lease(), name="dead")
        await dead._ensure_group()
        entries: Any = await self.redis.xreadgroup(
            "senders", "dead", {self.settings.push_queue_stream: ">"}, count=1
        )
        [[_, [(_, fields)]]] = entries
        return dead, await dead._claim(int(fields[b"outbox_id"]), utcnow())

    async def dispatch(self, now: datetime | None = None) -> int:
        return await dispatch_due(
            self.sessionmaker,
            self.redis,
            stream=self.settings.push_queue_stream,
            now=now or utcnow(),
        )

    async def drain(self, consumer: Consumer, rounds: int = 50) -> None:
        """Dispatch and consume until nothing is pending or due (retries included)."""
        for _ in range(rounds):
            await self.dispatch()
            done = await consumer.run_once(block_ms=10)
            if not done and not await self.busy():
                return
            if not done:
                await asyncio.sleep(0.02)
        raise AssertionError("deliveries did not settle")

    async def busy(self) -> bool:
        async with self.sessionmaker() as session:
            row = await session.execute(
                text("""SELECT
                    (SELECT count(*) FROM push_outbox WHERE status = 'pending'
                       AND due_at <= now() + interval '1 second')
                  + (SELECT count(*) FROM flash_offer_deliveries
                       WHERE status IN ('queued', 'retry')
                       AND next_attempt_at <= now() + interval '1 second')""")
            )
            return bool(row.scalar_one())

    async def deliveries(self, offer_id: str) -> list[dict[str, Any]]:
        async with self.sessionmaker() as session:
            rows = await session.execute(
                text("""SELECT d.*, v.token FROM flash_offer_deliveries d
                        LEFT JOIN push_devices v ON v.id = d.device_id
                        WHERE offer_id = :id ORDER BY d.id"""),
                {"id": uuid.UUID(offer_id)},
            )
            return [dict(r._mapping) for r in rows]


async def subscriber(
    client: ApiClient,
    *,
    at: dict[str, float] | None,
    categories: list[str] | None = None,
    merchant_ids: list[str] | None = None,
    radius_m: int = 2000,
    devices: int = 1,
    **extra: Any,
) -> tuple[Actor, list[str]]:
    """A consumer with a subscription, `devices` FCM tokens and (optionally) a location ping."""
    user = await client.register()
    body = {
        "categories": categories or [],
        "merchant_ids": merchant_ids or [],
        "radius_m": radius_m,
        **extra,
    }
    r = await client.put("/v1/me/subscriptions", json=body, headers=user.headers)
    assert r.status_code == 200, r.text
    tokens = []
    for i in range(devices):
        token = f"tok-{user.user_id}-{i}"
        r = await client.post(
            "/v1/me/devices", json={"token": token, "platform": "android"}, headers=user.headers
        )
        assert r.status_code == 201, r.text
        tokens.append(token)
    if at is not None:
        r = await client.post("/v1/me/locations", json={"location": at}, headers=user.headers)
        assert r.status_code == 201, r.text
    return user, tokens


# the published flash campaign made for each shop by merchant_with_shop (offer_body uses it)
FLASH_CAMPAIGN_OF_SHOP: dict[str, str] = {}


async def flash_campaign(client: ApiClient, owner: Actor, merchant_id: str) -> str:
    now = datetime.now(UTC)
    body = {
        "name": "下午茶半价",
        "discount": {"kind": "percent_off", "value": 50},
        "valid_from": (now - timedelta(minutes=5)).isoformat(),
        "valid_until": (now + timedelta(days=1)).isoformat(),
        "flash": True,
    }
    r = await client.post(
        f"/v1/merchants/{merchant_id}/campaigns", json=body, headers=owner.headers
    )
    assert r.status_code == 201, r.text
    r = await client.post(f"/v1/campaigns/{r.json()['id']}/publish", headers=owner.headers)
    assert r.status_code == 200, r.text
    return str(r.json()["id"])


async def merchant_with_shop(client: ApiClient, **shop: Any) -> tuple[Actor, str, str]:
    owner = await client.register()
    merchant = await client.merchant(owner)
    created = await create_shop(client, owner, merchant["id"], location=SHOP, **shop)
    FLASH_CAMPAIGN_OF_SHOP[created["id"]] = await flash_campaign(client, owner, merchant["id"])
    return owner, merchant["id"], created["id"]


def offer_body(shop_id: str, kind: str = "nearby", minutes: int = 60, **audience: Any) -> dict:
    return {
        "campaign_id": FLASH_CAMPAIGN_OF_SHOP.get(shop_id, str(uuid.uuid4())),
        "shop_id": shop_id,
        "audience": {"kind": kind, **audience},
        "expires_in_minutes": minutes,
        "message": {"title": "限时特惠", "body": "牛肉面半价，仅限今天下午"},
    }
