"""Messages a person can read (issue 18 point 8): problem bodies and counter lookup refusals
follow Accept-Language (zh-CN when absent), say money in yuan, and never show a zh-CN reader
an English sentence written for developers."""

from __future__ import annotations

from typing import Any

from core.settings import Settings
from tests.coupons.helpers import published_campaign, shopfront
from tests.helpers import ApiClient, assert_problem
from tests.orders.helpers import make_store, money, pay

EN = {"Accept-Language": "en"}


def _is_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


async def test_counter_lookup_refusals_follow_the_language(client: ApiClient) -> None:
    front = await shopfront(client)
    campaign = await published_campaign(client, front)  # 满50减10
    me = await client.register()
    code = (await client.post(f"/v1/campaigns/{campaign['id']}/claim", headers=me.headers)).json()[
        "code"
    ]
    body = {"code": code, "shop_id": front.shop_id, "order_amount": money(3000)}
    headers = front.clerk.headers
    zh = (await client.post("/v1/counter/lookup", json=body, headers=headers)).json()["refusal"]
    en = (await client.post("/v1/counter/lookup", json=body, headers={**headers, **EN})).json()[
        "refusal"
    ]
    assert zh["code"] == en["code"] == "min_spend_not_met"
    assert _is_chinese(zh["title"]) and not _is_chinese(en["title"])
    assert zh["detail"] == "最低消费¥50.00" and en["detail"] == "Minimum spend ¥50.00"
    # the redeem's problem body says the same as the lookup, in the same language
    r = await client.post("/v1/counter/redeem", json=body, headers=headers)
    problem = r.json()
    assert (problem["title"], problem["detail"]) == (zh["title"], zh["detail"])
    # the machine-readable amount stays in minor units; the texts never show them
    texts = [b[k] for b in (zh, en, problem) for k in ("title", "detail")]
    assert not [t for t in texts if "5000" in t or "CNY" in t or "min_spend" in t]
    assert problem["min_spend"] == money(5000)


async def test_order_refusals_follow_the_language(
    client: ApiClient, test_settings: Settings
) -> None:
    store = await make_store(client)
    r = await client.post(
        f"/v1/shops/{store.shop_id}/orders",
        json={"items": [{"offering_id": store.noodles["id"]}]},
        headers=store.customer.headers,
    )
    order = await pay(client, test_settings, r.json())
    consume = f"/v1/counter/orders/{order['id']}/consume"
    shop = {"shop_id": store.shop_id}
    assert (await client.post(consume, json=shop, headers=store.clerk.headers)).status_code == 200

    # the order lookup's refusal: the reader's language
    lookup: dict[str, Any] = {"code": order["code"], "shop_id": store.shop_id}
    url = "/v1/counter/orders/lookup"
    zh = (await client.post(url, json=lookup, headers=store.clerk.headers)).json()["refusal"]
    en = (await client.post(url, json=lookup, headers={**store.clerk.headers, **EN})).json()[
        "refusal"
    ]
    assert zh["code"] == en["code"] == "order_already_consumed"
    assert zh["title"] == "订单已消费" and en["title"] == "Order already consumed"
    assert _is_chinese(zh["detail"]) and en["detail"].startswith("This order was already consumed")

    # a problem whose detail was written in English only: a zh-CN reader gets the zh title
    r = await client.post(f"/v1/orders/{order['id']}/cancel", headers=store.customer.headers)
    body = assert_problem(r, 409, "order_transition_invalid")
    assert body["detail"] == body["title"] == "订单当前状态不允许该操作"
    r = await client.post(
        f"/v1/orders/{order['id']}/cancel", headers={**store.customer.headers, **EN}
    )
    body = assert_problem(r, 409, "order_transition_invalid")
    assert body["detail"] == "The order is consumed; it cannot become cancelled"

    # refusals written for people, in both languages, without field names
    r = await client.post(f"/v1/me/orders/{order['id']}/refund", headers=store.customer.headers)
    zh_body = assert_problem(r, 409, "order_transition_invalid")
    assert _is_chinese(zh_body["detail"])
    fresh = await pay(
        client,
        test_settings,
        (
            await client.post(
                f"/v1/shops/{store.shop_id}/orders",
                json={"items": [{"offering_id": store.noodles["id"]}]},
                headers=store.customer.headers,
            )
        ).json(),
    )
    refund = f"/v1/me/orders/{fresh['id']}/refund"
    zh_body = assert_problem(
        await client.post(refund, headers=store.customer.headers), 409, "refund_not_allowed"
    )
    en_body = assert_problem(
        await client.post(refund, headers={**store.customer.headers, **EN}),
        409,
        "refund_not_allowed",
    )
    assert zh_body["detail"] == "该订单不支持自助退款，请联系商家"
    assert en_body["detail"] == "This order cannot be refunded on request; ask the shop"
    for text in (zh_body["detail"], en_body["detail"]):
        assert "refund_policy" not in text and "_" not in text


async def test_validation_problems_in_zh_cn_by_default(client: ApiClient) -> None:
    me = await client.register()
    r = await client.post("/v1/merchants", json={"name": ""}, headers=me.headers)
    body = assert_problem(r, 422, "validation_error")
    assert body["title"] == body["detail"] == "请求参数无效"
    assert body["errors"][0]["loc"] == ["body", "name"]  # where, for the developer
    r = await client.post("/v1/merchants", json={"name": ""}, headers={**me.headers, **EN})
    body = assert_problem(r, 422, "validation_error")
    assert body["title"] == "The request is not valid" and body["detail"].startswith("body.name")


def test_the_paper_coupon_sheet_says_its_offer_in_yuan() -> None:
    from core.i18n import current_language
    from core.money import Money
    from coupons import schemas
    from coupons.routes import _offer_text

    # only the offer's fields matter to the sheet's line
    campaign = schemas.Campaign.model_construct(  # type: ignore[call-arg]
        discount=schemas.AmountOff(kind="amount_off", value=Money.of(1000)),
        min_spend=Money.of(5000),
    )
    assert _offer_text(campaign) == "立减¥10.00（满¥50.00可用）"  # zh-CN when no language
    token = current_language.set("en")
    try:
        assert _offer_text(campaign) == "¥10.00 off over ¥50.00"
        percent = schemas.Campaign.model_construct(  # type: ignore[call-arg]
            discount=schemas.PercentOff(kind="percent_off", value=20, max_off=Money.of(1500)),
            min_spend=None,
        )
        assert _offer_text(percent) == "20% off (up to ¥15.00)"
    finally:
        current_language.reset(token)
