"""Helpers of the memberships tests (imported by test modules; fixtures are in conftest.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.helpers import Actor, ApiClient, create_shop


def money(amount: int) -> dict[str, Any]:
    return {"amount": amount, "currency": "CNY"}


def program_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "老王面馆会员卡",
        "tiers": [
            {
                "code": "regular",
                "name": "普通卡",
                "rank": 0,
                "discount_percent": 0,
                "earn": {"points_per_currency_unit": 1},
            },
            {
                "code": "vip",
                "name": "贵宾卡",
                "rank": 1,
                "discount_percent": 10,
                "earn": {"points_per_currency_unit": 2},
                "upgrade": {"min_spend_12m": money(100_000)},
            },
        ],
        "redeem": {"points_per_currency_unit": 100},
        "topup_bonuses": [{"min_amount": money(50_000), "bonus": money(5_000)}],
    }
    body.update(overrides)
    return body


@dataclass
class Setup:
    owner: Actor
    manager: Actor
    clerk: Actor
    merchant_id: str
    shop_id: str
    program: dict[str, Any]

    @property
    def program_id(self) -> str:
        return str(self.program["id"])


async def make_setup(client: ApiClient, **program_overrides: Any) -> Setup:
    owner = await client.register()
    merchant = await client.merchant(owner)
    shop = await create_shop(client, owner, merchant["id"])
    manager = await client.staff(owner, merchant["id"], "manager")
    clerk = await client.staff(owner, merchant["id"], "clerk")
    r = await client.post(
        f"/v1/merchants/{merchant['id']}/programs",
        json=program_body(**program_overrides),
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text
    return Setup(owner, manager, clerk, merchant["id"], shop["id"], r.json())


async def join(client: ApiClient, setup: Setup, member: Actor | None = None) -> tuple[Actor, dict]:  # type: ignore[type-arg]
    member = member or await client.register(name="张三")
    r = await client.post(f"/v1/programs/{setup.program_id}/join", headers=member.headers)
    assert r.status_code == 201, r.text
    return member, r.json()


async def sms_actor(client: ApiClient, settings: Any, phone: str) -> Actor:
    """The account of `phone` signed in by SMS code (created on first use): it proved the
    phone, so merchants' records of that phone are its own."""
    from tests.accounts.test_sms_signin import ask_code, last_code, sign_in

    await ask_code(client, phone)
    tokens = await sign_in(client, phone, last_code(settings, phone))
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    me = (await client.get("/v1/me", headers=headers)).json()
    return Actor(me["id"], me["phone"], str(tokens["access_token"]), str(tokens["refresh_token"]))


async def set_pin(client: ApiClient, member: Actor, card_id: str, pin: str = "135790") -> None:
    r = await client.put(f"/v1/cards/{card_id}/pin", json={"pin": pin}, headers=member.headers)
    assert r.status_code == 200, r.text


async def counter(
    client: ApiClient, staff: Actor, setup: Setup, card: str, kind: str, **fields: Any
) -> Any:
    body = {"card": card, "shop_id": setup.shop_id, "kind": kind, **fields}
    headers = dict(staff.headers)
    if "idempotency_key" in body:
        headers["Idempotency-Key"] = body.pop("idempotency_key")
    return await client.post("/v1/counter/transactions", json=body, headers=headers)


async def count_product(
    client: ApiClient, setup: Setup, uses: int = 10, price: int = 40_000, **fields: Any
) -> dict[str, Any]:
    body = {"name": "洗剪吹10次卡", "uses": uses, "price": money(price), **fields}
    r = await client.post(
        f"/v1/programs/{setup.program_id}/count-products", json=body, headers=setup.manager.headers
    )
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def bought_pass(
    client: ApiClient, settings: Any, member: Actor, card_id: str, product_id: str
) -> dict[str, Any]:
    """A count pass bought and paid (pending → active through the signed callback)."""
    from tests.memberships.test_topups import callback, post_callback

    r = await client.post(
        f"/v1/cards/{card_id}/count-passes", json={"product_id": product_id}, headers=member.headers
    )
    assert r.status_code == 201, r.text
    r = await post_callback(client, *callback(settings, r.json()["payment"]["reference"]))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "active", r.text
    return r.json()  # type: ignore[no-any-return]
