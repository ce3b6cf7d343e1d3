"""GET /v1/shops/{shop_id}/page: every part, anonymous vs signed in, 404s, crs, and a fixed
number of SQL statements whatever the counts (a statement counter on the engine)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from core.discovery import recording_statements
from tests.coupons.helpers import Shopfront, claim, published_campaign
from tests.helpers import Actor, ApiClient, assert_problem, create_shop
from tests.memberships.helpers import money, program_body


@contextmanager
def counting_statements(app: Any) -> Iterator[list[str]]:
    """Every statement the page runs while the block runs (it reads on the discovery pools'
    psycopg connections; core.discovery.recording_statements records their cursors)."""
    with recording_statements(app.state.discovery) as seen:
        texts: list[str] = []
        yield texts
        texts.extend(sql for sql, _ in seen)


async def _offering(
    client: ApiClient, owner: Actor, shop_id: str, name: str, price: int, bookable: bool
) -> dict[str, Any]:
    r = await client.post(
        f"/v1/shops/{shop_id}/offerings",
        json={"name": name, "price": money(price), "bookable": bookable},
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def _program(client: ApiClient, owner: Actor, merchant_id: str, name: str) -> dict[str, Any]:
    r = await client.post(
        f"/v1/merchants/{merchant_id}/programs", json=program_body(name=name), headers=owner.headers
    )
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def _count_product(client: ApiClient, owner: Actor, program_id: str) -> None:
    r = await client.post(
        f"/v1/programs/{program_id}/count-products",
        json={"name": "洗剪吹10次卡", "uses": 10, "price": money(40_000)},
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text


async def _store(client: ApiClient) -> tuple[Shopfront, dict[str, Any]]:
    owner = await client.register()
    merchant = await client.merchant(owner)
    shop = await create_shop(
        client,
        owner,
        merchant["id"],
        name="静安店",
        description="三十年老店，牛肉面现拉现煮。",
        features=["wifi", " 停车 ", "wifi", "支付宝"],
    )
    clerk = await client.staff(owner, merchant["id"], "clerk")
    return Shopfront(owner, merchant["id"], shop["id"], clerk), shop


async def test_the_page_has_every_part_and_the_caller_s_own(client: ApiClient) -> None:
    front, shop = await _store(client)
    second = await create_shop(client, front.owner, front.merchant_id, name="徐汇店")
    noodles = await _offering(client, front.owner, front.shop_id, "牛肉面", 3800, False)
    haircut = await _offering(client, front.owner, front.shop_id, "洗剪吹", 8800, True)
    now = datetime.now(UTC)
    open_campaign = await published_campaign(client, front, per_user_limit=2, total_quantity=10)
    await published_campaign(client, front, name="二号店专享", shop_ids=[second["id"]])
    program = await _program(client, front.owner, front.merchant_id, "会员卡")
    await _count_product(client, front.owner, program["id"])

    me = await client.register(name="王小明")
    coupon = await claim(client, open_campaign["id"], me)
    r = await client.post(f"/v1/programs/{program['id']}/join", headers=me.headers)
    assert r.status_code == 201, r.text
    card = r.json()
    # a verified review (after a redemption) written before a general one
    r = await client.post(
        "/v1/counter/redeem",
        json={"code": coupon["code"], "shop_id": front.shop_id, "order_amount": money(6000)},
        headers=front.clerk.headers,
    )
    assert r.status_code == 200, r.text
    redemption_id = r.json()["redemption_id"]
    r = await client.post(
        f"/v1/shops/{front.shop_id}/reviews",
        json={"rating": 5, "text": "好吃", "redemption_id": redemption_id},
        headers=me.headers,
    )
    assert r.status_code == 201, r.text
    someone = await client.register(name="路人")
    r = await client.post(
        f"/v1/shops/{front.shop_id}/reviews",
        json={"rating": 3, "text": "一般"},
        headers=someone.headers,
    )
    assert r.status_code == 201, r.text

    r = await client.get(f"/v1/shops/{front.shop_id}/page", headers=me.headers)
    assert r.status_code == 200, r.text
    page = r.json()
    assert set(page) == {"shop", "offerings", "campaigns", "programs", "reviews", "other_shops"}
    s = page["shop"]
    assert s["description"] == "三十年老店，牛肉面现拉现煮。"
    assert s["features"] == ["wifi", "停车", "支付宝"]
    assert s["photos"] == [] and isinstance(s["open_now"], bool)
    assert (
        s["rating_summary"]["all"]["count"] == 2 and s["rating_summary"]["verified"]["count"] == 1
    )
    assert len(s["opening_hours"]) == 7

    offerings = {o["id"]: o for o in page["offerings"]}
    assert offerings[noodles["id"]]["next_slots"] == []
    slots = offerings[haircut["id"]]["next_slots"]
    assert len(slots) == 3 and all(x["available"] >= 1 for x in slots)
    starts = [datetime.fromisoformat(x["starts_at"]) for x in slots]
    assert starts == sorted(starts) and starts[0] > now

    # the second shop's campaign is not claimable here
    names = [c["name"] for c in page["campaigns"]]
    assert "二号店专享" not in names and open_campaign["name"] in names
    mine = next(c for c in page["campaigns"] if c["id"] == open_campaign["id"])
    assert mine["remaining"] == 9 and mine["per_user_left"] == 1 and mine["held"] == 0  # used

    [p] = page["programs"]
    assert [t["code"] for t in p["tiers"]] == ["regular", "vip"]
    assert p["topup_bonuses"] == [{"min_amount": money(50_000), "bonus": money(5_000)}]
    assert [c["name"] for c in p["count_products"]] == ["洗剪吹10次卡"]
    assert p["my_card"]["id"] == card["id"] and p["my_card"]["card_number"] == card["card_number"]

    assert [rv["verified"] for rv in page["reviews"]] == [True, False]
    assert page["reviews"][0]["redemption_id"] is None  # the evidence stays private
    assert [o["id"] for o in page["other_shops"]] == [second["id"]]

    # anonymous: the same page without the caller's parts
    r = await client.get(f"/v1/shops/{front.shop_id}/page")
    anon = r.json()
    assert r.status_code == 200
    assert all(c["per_user_left"] is None and c["held"] is None for c in anon["campaigns"])
    assert all(p["my_card"] is None for p in anon["programs"])
    assert [c["id"] for c in anon["campaigns"]] == [c["id"] for c in page["campaigns"]]

    # another person sees their own numbers, not mine
    r = await client.get(f"/v1/shops/{front.shop_id}/page", headers=someone.headers)
    theirs = next(c for c in r.json()["campaigns"] if c["id"] == open_campaign["id"])
    assert theirs["per_user_left"] == 2 and theirs["held"] == 0
    assert r.json()["programs"][0]["my_card"] is None


async def test_crs_and_404s(client: ApiClient) -> None:
    front, shop = await _store(client)
    wgs = (await client.get(f"/v1/shops/{front.shop_id}/page")).json()["shop"]["location"]
    gcj = (await client.get(f"/v1/shops/{front.shop_id}/page", params={"crs": "gcj02"})).json()
    assert gcj["shop"]["location"] != wgs
    assert abs(gcj["shop"]["location"]["lat"] - wgs["lat"]) < 0.01
    r = await client.get(f"/v1/shops/{uuid.uuid4()}/page")
    assert_problem(r, 404, "shop_not_found")
    r = await client.delete(f"/v1/shops/{front.shop_id}", headers=front.owner.headers)
    assert r.status_code == 204, r.text
    r = await client.get(f"/v1/shops/{front.shop_id}/page")
    assert_problem(r, 404, "shop_not_found")
    r = await client.get("/v1/shops/not-a-uuid/page")
    assert_problem(r, 422, "validation_error")
    r = await client.get(f"/v1/shops/{uuid.uuid4()}/page", params={"crs": "mars"})
    assert_problem(r, 422, "validation_error")


async def test_a_discovery_only_place_shows_nothing_to_buy(client: ApiClient) -> None:
    owner = await client.register()
    merchant = await client.merchant(owner)
    bank = await create_shop(
        client, owner, merchant["id"], name="银行", category="public_service", discovery_only=True
    )
    page = (await client.get(f"/v1/shops/{bank['id']}/page")).json()
    assert page["offerings"] == [] and page["campaigns"] == [] and page["programs"] == []


async def test_a_fixed_number_of_statements_whatever_the_counts(
    client: ApiClient, app: Any
) -> None:
    front, _ = await _store(client)
    await _offering(client, front.owner, front.shop_id, "面", 1000, True)
    await published_campaign(client, front)
    program = await _program(client, front.owner, front.merchant_id, "卡一")
    await _count_product(client, front.owner, program["id"])
    me = await client.register()
    r = await client.post(f"/v1/programs/{program['id']}/join", headers=me.headers)
    assert r.status_code == 201

    async def statements(headers: dict[str, str] | None) -> int:
        with counting_statements(app) as seen:
            r = await client.get(f"/v1/shops/{front.shop_id}/page", headers=headers or {})
            assert r.status_code == 200, r.text
        return len(
            [s for s in seen if not s.lstrip().upper().startswith(("BEGIN", "ROLLBACK", "SET"))]
        )

    small_anonymous, small_signed = await statements(None), await statements(me.headers)

    # the size: 20 offerings, 5 campaigns, 2 programmes; and more of everything else
    for i in range(19):
        await _offering(client, front.owner, front.shop_id, f"菜{i}", 1000 + i, i % 2 == 0)
    for i in range(4):
        c = await published_campaign(client, front, name=f"活动{i}")
        await claim(client, c["id"], me)
    second = await _program(client, front.owner, front.merchant_id, "卡二")
    for _ in range(3):
        await _count_product(client, front.owner, second["id"])
    r = await client.post(f"/v1/programs/{second['id']}/join", headers=me.headers)
    assert r.status_code == 201
    for _ in range(3):
        await create_shop(client, front.owner, front.merchant_id, name="分店")
    for i in range(6):
        person = await client.register()
        await client.post(
            f"/v1/shops/{front.shop_id}/reviews", json={"rating": 1 + i % 5}, headers=person.headers
        )

    page = (await client.get(f"/v1/shops/{front.shop_id}/page", headers=me.headers)).json()
    assert len(page["offerings"]) == 20 and len(page["campaigns"]) == 5
    assert len(page["programs"]) == 2 and all(p["my_card"] for p in page["programs"])
    assert await statements(None) == small_anonymous
    assert await statements(me.headers) == small_signed
    assert small_anonymous == 9 and small_signed == 11, (small_anonymous, small_signed)


def schema_errors(
    value: Any, schema: dict[str, Any], spec: dict[str, Any], at: str = ""
) -> list[str]:
    """Where `value` departs from an OpenAPI schema of `spec` (the subset pydantic writes:
    $ref, anyOf/oneOf, type, enum/const, properties with required ones and no others,
    additionalProperties, items, uuid and date-time formats, bounds)."""
    if "$ref" in schema:
        name = schema["$ref"].rpartition("/")[2]
        return schema_errors(value, spec["components"]["schemas"][name], spec, at)
    for options in (schema.get("anyOf"), schema.get("oneOf")):
        if options is not None:
            if any(not schema_errors(value, option, spec, at) for option in options):
                return []
            return [f"{at}: {value!r} matches none of {options}"]
    if "const" in schema and value != schema["const"]:
        return [f"{at}: {value!r} is not {schema['const']!r}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{at}: {value!r} not in {schema['enum']}"]
    kinds = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}
    kind = schema.get("type")
    if kind in ("integer", "number"):
        numeric = (int,) if kind == "integer" else (int, float)
        if isinstance(value, bool) or not isinstance(value, numeric):
            return [f"{at}: {value!r} is not {kind}"]
        if value < schema.get("minimum", value) or value > schema.get("maximum", value):
            return [f"{at}: {value!r} out of bounds"]
        return []
    if kind is not None and not isinstance(value, kinds[kind]):
        return [f"{at}: {value!r} is not {kind}"]
    errors: list[str] = []
    if kind == "string":
        if schema.get("format") == "uuid":
            uuid.UUID(value)
        elif schema.get("format") == "date-time":
            assert datetime.fromisoformat(value).tzinfo is not None, (at, value)
    elif kind == "array":
        for i, item in enumerate(value):
            errors += schema_errors(item, schema.get("items", {}), spec, f"{at}[{i}]")
    elif kind == "object":
        properties = schema.get("properties", {})
        errors += [f"{at}.{key}: missing" for key in schema.get("required", ()) if key not in value]
        extra = schema.get("additionalProperties", not properties)
        for key, item in value.items():
            if key in properties:
                errors += schema_errors(item, properties[key], spec, f"{at}.{key}")
            elif isinstance(extra, dict):
                errors += schema_errors(item, extra, spec, f"{at}.{key}")
            elif not extra:
                errors.append(f"{at}.{key}: not in the schema")
    return errors


async def test_anonymous_and_signed_in_pages_match_the_documented_schema(
    client: ApiClient,
) -> None:
    front, _ = await _store(client)
    await create_shop(client, front.owner, front.merchant_id, name="徐汇店")
    await _offering(client, front.owner, front.shop_id, "面", 1000, False)
    await _offering(client, front.owner, front.shop_id, "剪发", 5000, True)
    campaign = await published_campaign(client, front, per_user_limit=2)
    program = await _program(client, front.owner, front.merchant_id, "卡一")
    await _count_product(client, front.owner, program["id"])
    me = await client.register()
    coupon = await claim(client, campaign["id"], me)
    r = await client.post(f"/v1/programs/{program['id']}/join", headers=me.headers)
    assert r.status_code == 201, r.text
    r = await client.post(
        "/v1/counter/redeem",
        json={"code": coupon["code"], "shop_id": front.shop_id, "order_amount": money(6000)},
        headers=front.clerk.headers,
    )
    assert r.status_code == 200, r.text
    r = await client.post(
        f"/v1/shops/{front.shop_id}/reviews",
        json={"rating": 4, "text": "好", "redemption_id": r.json()["redemption_id"]},
        headers=me.headers,
    )
    assert r.status_code == 201, r.text

    spec = (await client.get("/openapi.json")).json()
    operation = spec["paths"]["/v1/shops/{shop_id}/page"]["get"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    anonymous = await client.get(f"/v1/shops/{front.shop_id}/page")
    signed_in = await client.get(f"/v1/shops/{front.shop_id}/page", headers=me.headers)
    for r in (anonymous, signed_in):
        assert r.status_code == 200 and r.headers["content-type"] == "application/json"
        assert schema_errors(r.json(), schema, spec) == []
    page = signed_in.json()
    # every part filled, so each nested schema was checked against a real value
    assert page["programs"][0]["my_card"]["progress"] is not None
    assert page["campaigns"][0]["per_user_left"] == 1 and page["reviews"][0]["verified"]
    assert [len(o["next_slots"]) for o in page["offerings"]] in ([0, 3], [3, 0])
    assert page["other_shops"] and page["shop"]["rating_summary"]["verified"]["count"] == 1
    # the check can fail: a field the document does not declare, or one it requires missing
    assert schema_errors({**page, "extra": 1}, schema, spec) == [".extra: not in the schema"]
    del page["shop"]["open_now"]
    assert schema_errors(page, schema, spec) == [".shop.open_now: missing"]
