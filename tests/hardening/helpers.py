"""Merchant A's "world", built through the public API: one of every resource, with markers.

The markers are strings that only A's private data contains; a response to anyone else that
includes one of them is a leak.
"""

from __future__ import annotations

import io
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from PIL import Image

from tests.helpers import Actor, ApiClient, create_shop, fresh_phone


def money(amount: int) -> dict[str, Any]:
    return {"amount": amount, "currency": "CNY"}


def png_bytes(size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 80, 40)).save(out, "PNG")
    return out.getvalue()


def campaign_body(name: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "name": name,
        "discount": {"kind": "amount_off", "value": money(1000)},
        "min_spend": money(2000),
        "valid_from": (now - timedelta(hours=1)).isoformat(),
        "valid_until": (now + timedelta(days=7)).isoformat(),
        "total_quantity": 100,
    }


def program_body(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "tiers": [
            {"code": "regular", "name": "普通卡", "rank": 0, "discount_percent": 0,
             "earn": {"points_per_currency_unit": 1}},
        ],
        "redeem": {"points_per_currency_unit": 100},
    }  # fmt: skip


async def ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, f"{response.request.url}: {response.text}"
    return response.json()  # type: ignore[no-any-return]


@dataclass
class World:
    owner: Actor
    manager: Actor
    clerk: Actor
    consumer: Actor
    ids: dict[str, str] = field(default_factory=dict)
    coupon_code: str = ""
    card_number: str = ""
    card_qr_token: str = ""
    coupon_qr: str = ""
    markers: list[str] = field(default_factory=list)

    def private_markers(self) -> list[str]:
        """Strings that must never reach another tenant or another consumer."""
        return [self.coupon_code, self.card_number, self.consumer.phone, *self.markers]


async def build_world(client: ApiClient, *, tag: str = "A") -> World:
    mark = f"SECRET-{tag}-{secrets.token_hex(4)}"
    owner = await client.register(name=f"owner {tag}")
    merchant = await client.merchant(owner, name=f"商户{tag}")
    mid = merchant["id"]
    manager = await client.staff(owner, mid, "manager")
    clerk = await client.staff(owner, mid, "clerk")
    consumer = await client.register(name=f"consumer {tag}")
    world = World(owner, manager, clerk, consumer, markers=[mark])
    ids = world.ids
    ids["merchant_id"] = mid
    ids["user_id"] = clerk.user_id
    # a pending staff invitation to a phone nobody has: only its invitee may answer it
    invitation = await client.post(
        f"/v1/merchants/{mid}/staff",
        json={"phone": fresh_phone(), "role": "clerk"},
        headers=owner.headers,
    )
    ids["invitation_id"] = (await ok(invitation, 201))["id"]

    async def post(path: str, who: Actor, body: Any = None, status: int = 201) -> dict[str, Any]:
        return await ok(await client.post(path, headers=who.headers, json=body), status)

    shop = await create_shop(client, owner, mid, name=f"店{tag}")
    sid = ids["shop_id"] = shop["id"]
    photo = await client.post(
        f"/v1/shops/{sid}/photos",
        headers=owner.headers,
        files={"file": ("a.png", png_bytes(), "image/png")},
        data={"kind": "storefront"},
    )
    ids["photo_id"] = (await ok(photo, 201))["id"]
    offering = await post(f"/v1/shops/{sid}/offerings", owner, {"name": "面", "price": money(2800)})
    ids["offering_id"] = offering["id"]

    campaign = await post(f"/v1/merchants/{mid}/campaigns", owner, campaign_body(f"券{tag}"))
    cid = ids["campaign_id"] = campaign["id"]
    await post(f"/v1/campaigns/{cid}/publish", owner, status=200)
    coupon = await post(f"/v1/campaigns/{cid}/claim", consumer)
    ids["coupon_id"] = coupon["id"]
    world.coupon_code = coupon["code"]
    redeem = {"code": coupon["code"], "shop_id": sid, "order_amount": money(5000)}
    redeemed = await post("/v1/counter/redeem", clerk, redeem, status=200)
    ids["redemption_id"] = redeemed["redemption_id"]
    review = {"rating": 5, "text": "好吃", "redemption_id": redeemed["redemption_id"]}
    ids["review_id"] = (await post(f"/v1/shops/{sid}/reviews", consumer, review))["id"]

    program = await post(f"/v1/merchants/{mid}/programs", owner, program_body(f"卡{tag}"))
    pid = ids["program_id"] = program["id"]
    count_product = {"name": f"次卡{tag}", "uses": 10, "price": money(40_000)}
    ids["product_id"] = (await post(f"/v1/programs/{pid}/count-products", owner, count_product))[
        "id"
    ]
    card = await post(f"/v1/programs/{pid}/join", consumer)
    card_id = ids["card_id"] = card["id"]
    world.card_number = card["card_number"]
    pin = await client.put(
        f"/v1/cards/{card_id}/pin", headers=consumer.headers, json={"pin": "135790"}
    )
    await ok(pin)
    purchase = {"card": card["card_number"], "shop_id": sid, "kind": "purchase",
                "amount": money(8800)}  # fmt: skip
    ids["entry_id"] = (await post("/v1/counter/transactions", clerk, purchase))["entry"]["id"]

    customers = await ok(await client.get(f"/v1/merchants/{mid}/customers", headers=owner.headers))
    mine = [c for c in customers["items"] if c["user_id"] == consumer.user_id]
    customer_id = ids["customer_id"] = mine[0]["id"]
    segment = {"name": f"seg {mark}", "rules": {"visits": {"min": 1}}}
    ids["segment_id"] = (await post(f"/v1/merchants/{mid}/segments", owner, segment))["id"]
    next_at = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    follow_up = {"customer_id": customer_id, "method": "phone", "content": f"called {mark}",
                 "next_at": next_at}  # fmt: skip
    ids["follow_up_id"] = (await post(f"/v1/merchants/{mid}/follow-ups", owner, follow_up))["id"]
    profile = await ok(
        await client.get(f"/v1/merchants/{mid}/customers/{customer_id}", headers=owner.headers)
    )
    ids["task_id"] = profile["open_follow_up_tasks"][0]["id"]
    plan = {"name": f"plan {tag}", "trigger": "first_purchase", "offsets_days": [3]}
    ids["plan_id"] = (await post(f"/v1/merchants/{mid}/follow-up-plans", owner, plan))["id"]
    complaint = {"customer_id": customer_id, "category": "service",
                 "content": f"cold noodles {mark}"}  # fmt: skip
    ids["complaint_id"] = (await post(f"/v1/merchants/{mid}/complaints", owner, complaint))["id"]
    ids["provider_name"] = "fake"

    # orders and bookings: an unpaid order and tomorrow's 10:00 booking of a bookable service
    items = {"items": [{"offering_id": offering["id"], "quantity": 1}]}
    order = await post(f"/v1/shops/{sid}/orders", consumer, items)
    ids["order_id"], ids["reference"] = order["id"], order["payment"]["reference"]
    haircut = {"name": "剪发", "price": money(8800), "bookable": True}
    bookable = await post(f"/v1/shops/{sid}/offerings", owner, haircut)
    shanghai = ZoneInfo("Asia/Shanghai")
    tomorrow = (datetime.now(shanghai) + timedelta(days=1)).date()
    starts_at = datetime.combine(tomorrow, time(10, 0), tzinfo=shanghai).isoformat()
    booking = {"offering_id": bookable["id"], "starts_at": starts_at}
    ids["booking_id"] = (await post(f"/v1/shops/{sid}/bookings", consumer, booking))["id"]

    # a flash offer to the merchant's customers, promoting a published flash campaign
    flash = await post(f"/v1/merchants/{mid}/campaigns", owner,
                       campaign_body(f"闪{tag}") | {"flash": True})  # fmt: skip
    await post(f"/v1/campaigns/{flash['id']}/publish", owner, status=200)
    offer = {
        "campaign_id": flash["id"],
        "shop_id": sid,
        "audience": {"kind": "customers"},
        "expires_in_minutes": 30,
        "message": {"title": "限时", "body": f"半价 {mark}"},
    }
    ids["flash_offer_id"] = (await post(f"/v1/merchants/{mid}/flash-offers", owner, offer,
                                        status=202))["id"]  # fmt: skip
    return world
