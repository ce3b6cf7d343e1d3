from __future__ import annotations

import asyncio
import io
import uuid
from datetime import UTC, datetime, timedelta

import zxingcpp
from PIL import Image
from sqlalchemy import select

from core.signing import sign
from coupons import codes
from coupons import service as coupons_service
from customers.models import Customer
from tests.coupons.helpers import claim, move_coupon_window, published_campaign, shopfront
from tests.helpers import ApiClient, assert_problem


async def test_redeem_by_typed_code(client: ApiClient, sessionmaker) -> None:  # type: ignore[no-untyped-def]
    front = await shopfront(client)
    campaign = await published_campaign(client, front)
    customer = await client.register()
    coupon = await claim(client, campaign["id"], customer)
    assert coupon["status"] == "active" and codes.is_valid(coupon["code"])
    assert coupon["campaign_id"] == campaign["id"]
    # a sloppy rendering of the code: lower case, hyphens, O for 0 and I/L for 1
    typed = coupon["code_display"].lower().replace("0", "o").replace("1", "l")
    body = {"code": typed, "shop_id": front.shop_id, "order_amount": {"amount": 8800}}
    r = await client.post("/v1/counter/lookup", json=body, headers=front.clerk.headers)
    assert r.status_code == 200, r.text
    look = r.json()
    assert look["redeemable"] is True and look["refusal"] is None
    assert look["discount"]["amount"] == {"amount": 1000, "currency": "CNY"}
    assert look["pay_amount"] == {"amount": 7800, "currency": "CNY"}
    assert look["coupon"]["status"] == "active"  # lookup changed nothing
    r = await client.post("/v1/counter/redeem", json=body, headers=front.clerk.headers)
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["coupon"]["status"] == "redeemed" and result["redemption_id"]
    assert result["discount"]["amount"]["amount"] == 1000
    again = assert_problem(
        await client.post("/v1/counter/redeem", json=body, headers=front.clerk.headers),
        409,
        "coupon_already_redeemed",
    )
    assert again["shop_id"] == front.shop_id and again["redeemed_at"]
    look = (await client.post("/v1/counter/lookup", json=body, headers=front.clerk.headers)).json()
    assert look["redeemable"] is False
    assert look["refusal"]["code"] == "coupon_already_redeemed"
    wallet = (await client.get("/v1/me/coupons?status=redeemed", headers=customer.headers)).json()
    assert [c["id"] for c in wallet["items"]] == [coupon["id"]]
    async with sessionmaker() as session:
        record = (await session.execute(select(Customer))).scalar_one()
    assert record.visits == 1 and record.total_spend == 7800
    # the review hook
    async with sessionmaker() as session:
        ref = await coupons_service.redemption_of_user_at_shop(
            session,
            redemption_id=uuid.UUID(result["redemption_id"]),
            user_id=uuid.UUID(customer.user_id),
            shop_id=uuid.UUID(front.shop_id),
        )
        assert ref is not None and str(ref.merchant_id) == front.merchant_id
        assert (
            await coupons_service.redemption_of_user_at_shop(
                session,
                redemption_id=uuid.UUID(result["redemption_id"]),
                user_id=uuid.UUID(front.clerk.user_id),
                shop_id=uuid.UUID(front.shop_id),
            )
            is None
        )


async def test_counter_refusals(client: ApiClient, sessionmaker) -> None:  # type: ignore[no-untyped-def]
    front = await shopfront(client)
    other = await shopfront(client, name="隔壁")
    from tests.helpers import create_shop

    second_shop = await create_shop(client, front.owner, front.merchant_id, name="徐汇店")
    campaign = await published_campaign(client, front, shop_ids=[front.shop_id])
    customer = await client.register()
    code = (await claim(client, campaign["id"], customer))["code"]
    url = "/v1/counter/redeem"

    def body(**kw: object) -> dict[str, object]:
        return {"code": code, "shop_id": front.shop_id, "order_amount": {"amount": 6000}} | kw

    h = front.clerk.headers
    bad_check = code[:-1] + ("0" if code[-1] != "0" else "1")
    assert_problem(
        await client.post(url, json=body(code=bad_check), headers=h), 422, "coupon_code_invalid"
    )
    assert_problem(
        await client.post(url, json=body(code="short"), headers=h), 422, "coupon_code_invalid"
    )
    assert_problem(
        await client.post(url, json=body(code=codes.new_code()), headers=h), 404, "coupon_not_found"
    )
    # another merchant's staff: the coupon does not exist for them
    assert_problem(
        await client.post(url, json=body(shop_id=other.shop_id), headers=other.clerk.headers),
        404,
        "coupon_not_found",
    )
    assert_problem(
        await client.post(url, json=body(shop_id=second_shop["id"]), headers=h),
        422,
        "shop_not_eligible",
    )
    assert_problem(
        await client.post(url, json=body(shop_id=other.shop_id), headers=h),
        422,
        "shop_not_eligible",
    )
    assert_problem(
        await client.post(url, json=body(order_amount={"amount": 4999}), headers=h),
        422,
        "min_spend_not_met",
    )
    assert_problem(
        await client.post(url, json=body(order_amount=None), headers=h),
        422,
        "order_amount_required",
    )
    assert_problem(
        await client.post(
            url, json=body(order_amount={"amount": 9000, "currency": "USD"}), headers=h
        ),
        422,
        "currency_mismatch",
    )
    r = await client.post(url, json={"shop_id": front.shop_id}, headers=h)
    assert_problem(r, 422, "validation_error")
    coupon_id = (await client.get("/v1/me/coupons", headers=customer.headers)).json()["items"][0][
        "id"
    ]
    now = datetime.now(UTC)
    await move_coupon_window(sessionmaker, coupon_id, valid_from=now + timedelta(hours=1))
    assert_problem(await client.post(url, json=body(), headers=h), 409, "coupon_not_yet_valid")
    await move_coupon_window(
        sessionmaker,
        coupon_id,
        valid_from=now - timedelta(days=2),
        valid_until=now - timedelta(days=1),
    )
    assert_problem(await client.post(url, json=body(), headers=h), 409, "coupon_expired")
    wallet = (await client.get("/v1/me/coupons?status=expired", headers=customer.headers)).json()
    assert [c["status"] for c in wallet["items"]] == ["expired"]
    assert (await client.get("/v1/me/coupons?status=active", headers=customer.headers)).json()[
        "items"
    ] == []


async def test_two_hundred_parallel_redeems_one_success(client: ApiClient) -> None:
    front = await shopfront(client)
    campaign = await published_campaign(client, front, min_spend=None)
    customer = await client.register()
    code = (await claim(client, campaign["id"], customer))["code"]
    body = {"code": code, "shop_id": front.shop_id}
    responses = await asyncio.gather(
        *(
            client.post("/v1/counter/redeem", json=body, headers=front.clerk.headers)
            for _ in range(200)
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) == 1, statuses
    assert statuses.count(409) == 199, statuses
    winner = next(r.json() for r in responses if r.status_code == 200)
    for r in responses:
        if r.status_code == 409:
            problem = r.json()
            assert problem["code"] == "coupon_already_redeemed"
            assert problem["redemption_id"] == winner["redemption_id"]
    stats = (
        await client.get(f"/v1/campaigns/{campaign['id']}/stats", headers=front.clerk.headers)
    ).json()
    assert stats["redeemed"] == 1


async def test_idempotent_redeem(client: ApiClient) -> None:
    front = await shopfront(client)
    campaign = await published_campaign(client, front, min_spend=None)
    customer = await client.register()
    code = (await claim(client, campaign["id"], customer))["code"]
    body = {"code": code, "shop_id": front.shop_id}
    headers = front.clerk.headers | {"Idempotency-Key": "tablet-1-0001"}
    first = await client.post("/v1/counter/redeem", json=body, headers=headers)
    second = await client.post("/v1/counter/redeem", json=body, headers=headers)
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json() and second.headers["Idempotent-Replayed"] == "true"
    changed = await client.post(
        "/v1/counter/redeem", json=body | {"order_amount": {"amount": 1}}, headers=headers
    )
    assert_problem(changed, 409, "idempotency_key_reused")


async def test_qr_round_trip_and_forgery(client: ApiClient, test_settings) -> None:  # type: ignore[no-untyped-def]
    front = await shopfront(client)
    campaign = await published_campaign(
        client, front, discount={"kind": "percent_off", "value": 15, "max_off": {"amount": 500}}
    )
    customer, someone = await client.register(), await client.register()
    coupon = await claim(client, campaign["id"], customer)
    url = f"/v1/coupons/{coupon['id']}/qr.png?size=300"
    assert_problem(await client.get(url, headers=someone.headers), 404, "coupon_not_found")
    assert_problem(await client.get(url, headers=front.clerk.headers), 404, "coupon_not_found")
    r = await client.get(url, headers=customer.headers)
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(r.content))
    assert 200 <= image.width <= 300
    decoded = zxingcpp.read_barcodes(image.convert("L"))
    assert len(decoded) == 1
    payload = decoded[0].text
    assert codes.code_from_qr(payload, test_settings.signing_keys()) == coupon["code"]
    # forged: a genuine-looking payload signed with another key, or an altered one
    forged = sign({"t": "cpn", "c": coupon["code"]}, [("k1", b"not-the-server-key")])
    kid, body64, tag = payload.split(".")
    other_code = codes.new_code()
    altered = ".".join([kid, sign({"t": "cpn", "c": other_code}, [("x", b"k")]).split(".")[1], tag])
    for bad in (forged, altered, payload[:-2], "garbage"):
        r = await client.post(
            "/v1/counter/redeem",
            json={"qr": bad, "shop_id": front.shop_id, "order_amount": {"amount": 6000}},
            headers=front.clerk.headers,
        )
        assert_problem(r, 422, "qr_invalid")
    r = await client.post(
        "/v1/counter/redeem",
        json={"qr": payload, "shop_id": front.shop_id, "order_amount": {"amount": 6000}},
        headers=front.clerk.headers,
    )
    assert r.status_code == 200, r.text
    # 15% of 60.00 = 9.00, capped at 5.00
    assert r.json()["discount"]["amount"]["amount"] == 500
    assert r.json()["pay_amount"]["amount"] == 5500


async def test_reverse_within_window(client: ApiClient, sessionmaker) -> None:  # type: ignore[no-untyped-def]
    front = await shopfront(client)
    manager = await client.staff(front.owner, front.merchant_id, "manager")
    other = await shopfront(client, name="别家")
    campaign = await published_campaign(client, front, min_spend=None)
    customer = await client.register()
    code = (await claim(client, campaign["id"], customer))["code"]
    body = {"code": code, "shop_id": front.shop_id}
    redemption_id = (
        await client.post("/v1/counter/redeem", json=body, headers=front.clerk.headers)
    ).json()["redemption_id"]
    url = f"/v1/redemptions/{redemption_id}/reverse"
    assert_problem(await client.post(url, headers=front.clerk.headers), 403, "forbidden")
    assert_problem(await client.post(url, headers=other.owner.headers), 404, "redemption_not_found")
    r = await client.post(url, json={"reason": "顾客取消订单"}, headers=manager.headers)
    assert r.status_code == 200, r.text
    assert (
        r.json()["reversed_by"] == manager.user_id and r.json()["reversal_reason"] == "顾客取消订单"
    )
    assert_problem(
        await client.post(url, headers=manager.headers), 409, "redemption_already_reversed"
    )
    # the coupon is active again and can be redeemed once more
    r = await client.post("/v1/counter/redeem", json=body, headers=front.clerk.headers)
    assert r.status_code == 200
    stats = (
        await client.get(f"/v1/campaigns/{campaign['id']}/stats", headers=front.clerk.headers)
    ).json()
    assert (stats["redeemed"], stats["reversed"]) == (1, 1)
    # a zero-minute window: too late
    await client.put(
        f"/v1/merchants/{front.merchant_id}/coupon-settings",
        json={"reversal_window_minutes": 0},
        headers=front.owner.headers,
    )
    late = f"/v1/redemptions/{r.json()['redemption_id']}/reverse"
    assert_problem(await client.post(late, headers=manager.headers), 409, "reversal_window_passed")
