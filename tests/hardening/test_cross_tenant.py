"""Cross-tenant matrix: every private route of /openapi.json, called with merchant A's ids as the
owner of merchant B and as a plain consumer, is refused (401/403/404) and leaks nothing.

Routes are discovered from the OpenAPI document, so routes added later (orders, push) are
covered automatically: a new route either refuses strangers or must be added to an allow-list
below, on purpose, in review.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.hardening.helpers import World, build_world, money, png_bytes
from tests.helpers import Actor, ApiClient, assert_problem

# Anyone may read these (discovery and public pages); they are checked for leaks only.
PUBLIC = {
    ("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics"),
    ("GET", "/v1/categories"), ("GET", "/v1/shops/nearby"),
    ("GET", "/v1/merchants/{merchant_id}"),
    ("GET", "/v1/shops/{shop_id}"), ("GET", "/v1/shops/{shop_id}/photos"),
    ("GET", "/v1/photos/{photo_id}"), ("GET", "/v1/photos/{photo_id}/thumbnail"),
    ("GET", "/v1/shops/{shop_id}/offerings"), ("GET", "/v1/shops/{shop_id}/reviews"),
    ("GET", "/v1/campaigns/{campaign_id}"),
    ("GET", "/v1/programs/{program_id}"), ("GET", "/v1/programs/{program_id}/design"),
    ("GET", "/v1/programs/{program_id}/design/preview.png"),
    ("GET", "/v1/programs/{program_id}/count-products"),
    ("GET", "/v1/offerings/{offering_id}/booking-rule"), ("GET", "/v1/shops/{shop_id}/slots"),
    ("GET", "/v1/shops/{shop_id}/page"),
}  # fmt: skip

# What any signed-in consumer may do to another merchant's public things.
CONSUMER_ACTIONS = {
    ("POST", "/v1/campaigns/{campaign_id}/claim"),
    ("POST", "/v1/programs/{program_id}/join"),
    ("POST", "/v1/shops/{shop_id}/reviews"),
    ("POST", "/v1/me/complaints"),
    ("POST", "/v1/shops/{shop_id}/orders"),
    ("POST", "/v1/shops/{shop_id}/bookings"),
    # a consumer sees only their own bookings at the shop (staff see all)
    ("GET", "/v1/shops/{shop_id}/bookings"),
    # anyone may follow or unfollow a merchant; it changes only the caller's subscription
    ("POST", "/v1/me/subscriptions/merchants/{merchant_id}"),
    ("DELETE", "/v1/me/subscriptions/merchants/{merchant_id}"),
    # provider webhooks are authenticated by the provider's signature, not by a user
    ("POST", "/v1/payments/{provider_name}/callback"),
}

REFUSED = {401, 403, 404}


def _body_for(method: str, path: str, w: World, b: World) -> dict[str, Any]:
    """A body valid enough that only authorization can refuse it (else `{}`)."""
    a = w.ids
    rules = {"visits": {"min": 0}}
    shop = {"name": "x", "category": "noodles", "location": {"lat": 31.2, "lng": 121.4},
            "address": "x", "opening_hours": []}  # fmt: skip
    bodies: dict[tuple[str, str], dict[str, Any]] = {
        ("PATCH", "/v1/merchants/{merchant_id}"): {"name": "taken over"},
        ("POST", "/v1/merchants/{merchant_id}/staff"): {"user_id": b.owner.user_id, "role": "owner"},  # noqa: E501
        ("POST", "/v1/merchants/{merchant_id}/shops"): shop,
        ("PATCH", "/v1/shops/{shop_id}"): {"name": "taken over"},
        ("POST", "/v1/shops/{shop_id}/offerings"): {"name": "x", "price": money(1)},
        ("PUT", "/v1/reviews/{review_id}/reply"): {"text": "x"},
        ("POST", "/v1/campaigns/{campaign_id}/issue"): {"user_ids": [b.consumer.user_id]},
        ("POST", "/v1/redemptions/{redemption_id}/reverse"): {},
        ("PUT", "/v1/cards/{card_id}/pin"): {"pin": "583920"},
        ("POST", "/v1/cards/{card_id}/adjustments"): {"points_delta": 1000, "note": "x"},
        ("POST", "/v1/cards/{card_id}/topups"): {"amount": money(10000)},
        ("POST", "/v1/cards/{card_id}/refund"): {"reason": "x"},
        ("POST", "/v1/merchants/{merchant_id}/segments"): {"name": "x", "rules": rules},
        ("POST", "/v1/merchants/{merchant_id}/segments/preview"): {"rules": rules},
        ("POST", "/v1/merchants/{merchant_id}/follow-ups"): {
            "customer_id": a["customer_id"], "method": "phone", "content": "x"},
        ("POST", "/v1/merchants/{merchant_id}/complaints"): {
            "customer_id": a["customer_id"], "category": "service", "content": "x"},
        ("PATCH", "/v1/merchants/{merchant_id}/complaints/{complaint_id}"): {"status": "closed"},
        ("PATCH", "/v1/merchants/{merchant_id}/customers/{customer_id}"): {"tags": ["x"]},
        ("PATCH", "/v1/merchants/{merchant_id}/follow-up-plans/{plan_id}"): {"active": False},
        ("POST", "/v1/merchants/{merchant_id}/follow-up-plans"): {
            "name": "x", "trigger": "first_purchase", "offsets_days": [1]},
        ("PUT", "/v1/merchants/{merchant_id}/coupon-settings"): {"reversal_window_minutes": 60},
        # routes that decide permission inside the handler are only reached with a valid body
        ("POST", "/v1/programs/{program_id}/count-products"): {
            "name": "x", "uses": 10, "price": money(1000)},
        ("PATCH", "/v1/programs/{program_id}/count-products/{product_id}"): {"active": False},
        ("PATCH", "/v1/programs/{program_id}"): {"name": "taken over",
                                                 "redeem": {"points_per_currency_unit": 1}},
        ("POST", "/v1/cards/{card_id}/count-passes"): {"product_id": a["product_id"]},
        ("POST", "/v1/cards/{card_id}/physical-card"): {"number": "880000000017"},
        ("POST", "/v1/counter/orders/{order_id}/consume"): {"shop_id": b.ids["shop_id"]},
        ("PUT", "/v1/offerings/{offering_id}/booking-rule"): {"slot_minutes": 30, "capacity": 1},
        # the bookings board: only A's staff move A's bookings
        ("PATCH", "/v1/bookings/{booking_id}"): {"status": "arrived"},
        ("PATCH", "/v1/merchants/{merchant_id}/follow-up-tasks/{task_id}"): {"assignee": None},
        ("PUT", "/v1/merchants/{merchant_id}/birthday-rule"): {
            "enabled": True, "days_before": 3, "channel": "sms", "message": "生日快乐"},
    }  # fmt: skip
    if path.endswith("/campaigns") and method == "POST":
        from tests.hardening.helpers import campaign_body

        return campaign_body("x")
    if path.endswith("/programs") and method == "POST":
        from tests.hardening.helpers import program_body

        return program_body("x")
    return bodies.get((method, path), {})


def _operations(spec: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    ]


def _fill(path: str, ids: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in ids, f"the world has no `{name}`: add it to tests/hardening/helpers.py"
        return ids[name]

    return re.sub(r"\{(\w+)\}", value, path)


def _assert_no_leak(r: httpx.Response, w: World, url: str, who: str) -> None:
    text = r.text
    for marker in w.private_markers():
        assert marker not in text, f"{who} {url} leaks {marker!r}: {text[:300]}"
    for name, value in w.ids.items():
        if name in ("provider_name", "user_id", "merchant_id", "shop_id", "photo_id",
                    "campaign_id", "program_id", "review_id", "offering_id",
                    "product_id"):  # fmt: skip
            continue  # public ids: shown on public pages
        if value not in url:
            assert value not in text, f"{who} {url} leaks A's {name}: {text[:300]}"


async def _call(
    client: ApiClient, method: str, url: str, actor: Actor, body: dict[str, Any]
) -> httpx.Response:
    if url.endswith("/photos") and method == "POST":
        return await client.post(url, headers=actor.headers,
                                 files={"file": ("a.png", png_bytes(), "image/png")})  # fmt: skip
    if method in ("GET", "DELETE"):
        return await client.request(method, url, headers=actor.headers)
    return await client.request(method, url, headers=actor.headers, json=body)


async def test_every_private_route_refuses_other_tenants_and_consumers(client: ApiClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    a = await build_world(client, tag="A")
    b = await build_world(client, tag="B")
    stranger = await client.register(name="路人")
    callers = {"owner of B": b.owner, "clerk of B": b.clerk, "consumer": stranger}
    checked = 0
    for method, path in _operations(spec):
        if "{" not in path or (method, path) in PUBLIC or (method, path) in CONSUMER_ACTIONS:
            continue
        url = _fill(path, a.ids)
        for who, actor in callers.items():
            r = await _call(client, method, url, actor, _body_for(method, path, a, b))
            # a 422 would mean the body was refused before authorization was ever reached:
            # give the route a valid body in `_body_for` so that only authorization can refuse
            assert r.status_code in REFUSED, f"{who} {method} {url}: {r.status_code} {r.text}"
            assert r.headers["content-type"].startswith("application/problem+json")
            _assert_no_leak(r, a, url, who)
            checked += 1
    assert checked > 100
    # A's world is untouched by all that
    r = await client.get(f"/v1/merchants/{a.ids['merchant_id']}/customers", headers=a.owner.headers)
    assert [c["id"] for c in r.json()["items"]] == [a.ids["customer_id"]]
    r = await client.get(f"/v1/shops/{a.ids['shop_id']}")
    assert r.status_code == 200 and r.json()["name"] == "店A"
    r = await client.get(f"/v1/programs/{a.ids['program_id']}")
    assert r.json()["name"] == "卡A" and r.json()["rule_version"] == 1


async def test_public_and_self_routes_leak_nothing_private(client: ApiClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    a = await build_world(client, tag="A")
    stranger = await client.register(name="路人")
    for method, path in _operations(spec):
        if method != "GET" or ((method, path) not in PUBLIC and "{" in path):
            continue
        url = _fill(path, a.ids)
        if path == "/v1/shops/nearby":
            url += "?lat=31.2304&lng=121.4737"
        r = await client.get(url, headers=stranger.headers)
        assert r.status_code < 500, f"{method} {url}: {r.text}"
        _assert_no_leak(r, a, url, "consumer")


async def test_counter_routes_do_not_serve_another_merchants_coupons_or_cards(
    client: ApiClient,
) -> None:
    a = await build_world(client, tag="A")
    b = await build_world(client, tag="B")
    # a fresh active coupon of A's consumer
    r = await client.post(f"/v1/merchants/{a.ids['merchant_id']}/campaigns",
                          json={**__import__("tests.hardening.helpers", fromlist=["x"])
                                .campaign_body("second"), "per_user_limit": 2},
                          headers=a.owner.headers)  # fmt: skip
    second = r.json()["id"]
    await client.post(f"/v1/campaigns/{second}/publish", headers=a.owner.headers)
    coupon = (await client.post(f"/v1/campaigns/{second}/claim", headers=a.consumer.headers)).json()
    for shop in (a.ids["shop_id"], b.ids["shop_id"]):
        body = {"code": coupon["code"], "shop_id": shop, "order_amount": money(5000)}
        for route in ("/v1/counter/lookup", "/v1/counter/redeem"):
            r = await client.post(route, json=body, headers=b.clerk.headers)
            assert r.status_code == 404, (route, shop, r.text)
            _assert_no_leak(r, a, route, "clerk of B")
        tx = {"card": a.card_number, "shop_id": shop, "kind": "purchase", "amount": money(100)}
        r = await client.post("/v1/counter/transactions", json=tx, headers=b.clerk.headers)
        assert r.status_code == 404, r.text
        _assert_no_leak(r, a, "/v1/counter/transactions", "clerk of B")
    # the coupon is still redeemable by A
    r = await client.post("/v1/counter/redeem", headers=a.clerk.headers,
                          json={"code": coupon["code"], "shop_id": a.ids["shop_id"],
                                "order_amount": money(5000)})  # fmt: skip
    assert r.status_code == 200, r.text


async def test_consumers_cannot_reach_each_others_coupons_and_cards(client: ApiClient) -> None:
    a = await build_world(client, tag="A")
    other = await client.register(name="李四")
    card, coupon = a.ids["card_id"], a.ids["coupon_id"]
    for url, code in ((f"/v1/coupons/{coupon}/qr.png", "coupon_not_found"),
                      (f"/v1/cards/{card}", "card_not_found"),
                      (f"/v1/cards/{card}/image.png", "card_not_found"),
                      (f"/v1/cards/{card}/qr-token", "card_not_found"),
                      (f"/v1/cards/{card}/ledger", "card_not_found")):  # fmt: skip
        r = await client.get(url, headers=other.headers)
        assert_problem(r, 404, code)
        _assert_no_leak(r, a, url, "other consumer")
    r = await client.put(f"/v1/cards/{card}/pin", json={"pin": "583920"}, headers=other.headers)
    assert r.status_code == 404, r.text
    # their own wallet and cards show nothing of A's consumer
    for url in ("/v1/me/coupons", "/v1/me/cards", "/v1/me/complaints", "/v1/me"):
        r = await client.get(url, headers=other.headers)
        assert r.status_code == 200, r.text
        _assert_no_leak(r, a, url, "other consumer")
    # A's consumer still has them
    assert (await client.get(f"/v1/cards/{card}", headers=a.consumer.headers)).status_code == 200
