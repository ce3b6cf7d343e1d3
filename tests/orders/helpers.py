"""Helpers of the orders tests: a store (merchant, shop, staff, offerings, a customer), money,
the fake provider's signed callbacks and `pay`, and `deliver` for a WeChat Pay stand-in's
notification. Fixtures (the WeChat Pay and Alipay stand-ins on loopback ports, settings with
the merchant's generated credentials pointing at them, an app built from those settings) are
in conftest.py."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from core.payments import SIGNATURE_HEADER, FakePaymentProvider
from core.settings import Settings
from core.standins.wechatpay import (
    Notification,
)
from tests.helpers import Actor, ApiClient, create_shop
from tests.memberships.helpers import program_body


def money(amount: int) -> dict[str, Any]:
    return {"amount": amount, "currency": "CNY"}


@dataclass
class Store:
    owner: Actor
    manager: Actor
    clerk: Actor
    customer: Actor
    merchant_id: str
    shop_id: str
    noodles: dict[str, Any]  # 38.00, not bookable
    haircut: dict[str, Any]  # 88.00, bookable

    async def order(
        self, client: ApiClient, *, quantity: int = 1, who: Actor | None = None, **extra: Any
    ) -> dict[str, Any]:
        r = await client.post(
            f"/v1/shops/{self.shop_id}/orders",
            json={"items": [{"offering_id": self.noodles["id"], "quantity": quantity}], **extra},
            headers=(who or self.customer).headers,
        )
        assert r.status_code == 201, r.text
        return r.json()  # type: ignore[no-any-return]


async def offering(
    client: ApiClient, owner: Actor, shop_id: str, name: str, price: int, bookable: bool = False
) -> dict[str, Any]:
    r = await client.post(
        f"/v1/shops/{shop_id}/offerings",
        json={"name": name, "price": money(price), "bookable": bookable},
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def make_store(client: ApiClient) -> Store:
    owner = await client.register()
    merchant = await client.merchant(owner)
    shop = await create_shop(client, owner, merchant["id"])
    manager = await client.staff(owner, merchant["id"], "manager")
    clerk = await client.staff(owner, merchant["id"], "clerk")
    customer = await client.register(name="李四")
    noodles = await offering(client, owner, shop["id"], "牛肉面", 3800)
    haircut = await offering(client, owner, shop["id"], "洗剪吹", 8800, bookable=True)
    return Store(owner, manager, clerk, customer, merchant["id"], shop["id"], noodles, haircut)


def callback(settings: Settings, reference: str, status: str = "succeeded") -> tuple[bytes, str]:
    body = orjson.dumps({"reference": reference, "status": status})
    return body, FakePaymentProvider(settings.signing_keys()).sign_callback(body)


async def post_callback(client: ApiClient, body: bytes, signature: str) -> Any:
    return await client.post(
        "/v1/payments/fake/callback",
        content=body,
        headers={SIGNATURE_HEADER: signature, "Content-Type": "application/json"},
    )


async def pay(client: ApiClient, settings: Settings, order: dict[str, Any]) -> dict[str, Any]:
    r = await post_callback(client, *callback(settings, order["payment"]["reference"]))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "paid", r.text
    return r.json()  # type: ignore[no-any-return]


async def deliver(client: ApiClient, note: Notification, **tamper: Any) -> httpx.Response:
    """Post a stand-in notification to our callback as WeChat Pay would."""
    headers = note.headers | {"Content-Type": "application/json"} | tamper.pop("headers", {})
    body = tamper.pop("body", note.body)
    return await client.post("/v1/payments/wechatpay/callback", content=body, headers=headers)


async def join_card(client: ApiClient, store: Store, **program: Any) -> dict[str, Any]:
    """The store's customer's card of a new programme (`program_body(**program)`)."""
    r = await client.post(
        f"/v1/merchants/{store.merchant_id}/programs",
        json=program_body(**program),
        headers=store.owner.headers,
    )
    assert r.status_code == 201, r.text
    r = await client.post(f"/v1/programs/{r.json()['id']}/join", headers=store.customer.headers)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]
