"""Messages a person can read (issue 18 point 8): problem bodies and counter lookup refusals
follow Accept-Language (zh-CN when absent), say money in yuan, and never show a zh-CN reader
an English sentence written for developers."""

from __future__ import annotations

from typing import Any

from core.errors import DomainError
from core.settings import Settings
from tests.coupons.helpers import campaign_body, published_campaign, shopfront
from tests.helpers import SNAKE_CASE, ApiClient, assert_problem, unreadable
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
    assert zh["detail"].startswith("该订单已于 ") and zh["detail"].endswith(" 消费")
    assert en["detail"].startswith("This order was already consumed at ")
    assert "+00:00" not in en["detail"] and "T" not in en["detail"].split(" at ")[1]

    # the order's status in words, never its code
    r = await client.post(f"/v1/orders/{order['id']}/cancel", headers=store.customer.headers)
    body = assert_problem(r, 409, "order_transition_invalid")
    assert body["title"] == "订单当前状态不允许该操作"
    assert body["detail"] == "订单已消费，不能改为已取消"
    r = await client.post(
        f"/v1/orders/{order['id']}/cancel", headers={**store.customer.headers, **EN}
    )
    body = assert_problem(r, 409, "order_transition_invalid")
    assert body["detail"] == "The order is consumed; it cannot become cancelled"
    assert body["order_status"] == "consumed"  # the code stays for machines

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


# -- the whole catalogue, and representative refusals in both languages --------------------


def _domain_errors() -> list[type[DomainError]]:
    import migrations.env_models  # noqa: F401  (imports every package, so every error class)
    from api.app import create_app  # noqa: F401

    def below(cls: type[DomainError]) -> list[type[DomainError]]:
        return [c for s in cls.__subclasses__() for c in (s, *below(s))]

    return [DomainError, *below(DomainError)]


def test_every_refusal_is_titled_in_both_languages_without_field_names() -> None:
    from core.i18n import current_language

    classes = _domain_errors()
    assert len(classes) > 100  # the catalogue is walked, not a handful of classes
    faults = []
    for cls in classes:
        error = cls.__new__(cls)  # titles only: no constructor arguments needed
        DomainError.__init__(error)
        token = current_language.set("en")
        try:
            english = error.localised_title()
        finally:
            current_language.reset(token)
        chinese = error.localised_title()  # zh-CN when nothing says otherwise
        where = f"{cls.__module__}.{cls.__name__} ({cls.code})"
        if not _is_chinese(chinese):
            faults.append(f"{where}: no zh-CN title")
        if _is_chinese(english):
            faults.append(f"{where}: the en title is not English")
        for text in (english, chinese):
            if SNAKE_CASE.search(text) or "`" in text:
                faults.append(f"{where}: {text!r} names a field or code")
    assert not faults, "\n".join(faults)


def test_enum_words_cover_every_value() -> None:
    """Refusals say statuses, roles and kinds in words: each table knows every value."""
    from typing import get_args

    from accounts.schemas import Role
    from accounts.service.errors import ROLES
    from coupons.schemas import CampaignStatus
    from coupons.service.errors import AUDIENCE_KIND, CAMPAIGN_STATUS
    from customers.schemas.common import FollowUpMethod
    from customers.schemas.complaints import ComplaintStatus
    from customers.service.errors import COMPLAINT_STATUS, FOLLOW_UP_METHOD
    from memberships.physical import REASONS
    from orders.schemas import BookingStatus, OrderStatus
    from orders.service.errors import BOOKING_STATUS, ORDER_STATUS

    pairs = [
        (ROLES, get_args(Role)),
        (CAMPAIGN_STATUS, get_args(CampaignStatus)),
        (AUDIENCE_KIND, ("public", "tiers", "segment", "customers")),
        (COMPLAINT_STATUS, get_args(ComplaintStatus)),
        (FOLLOW_UP_METHOD, get_args(FollowUpMethod)),
        (ORDER_STATUS, get_args(OrderStatus)),
        (BOOKING_STATUS, get_args(BookingStatus)),
        (REASONS, ("empty", "not_digits", "bad_length", "luhn_failed", "reserved_range")),
    ]
    for words, values in pairs:
        assert set(words.table) == set(values)
        for chinese, english in words.table.values():
            assert _is_chinese(chinese) and not _is_chinese(english)
            assert not SNAKE_CASE.search(english)


def test_waits_and_times_are_said_for_people() -> None:
    from datetime import UTC, datetime

    from core.errors import RateLimited
    from core.i18n import current_language
    from core.timezones import format_local

    assert RateLimited(30).texts()[1] == "请 30 秒后再试"
    assert RateLimited(3000).texts()[1] == "请 50 分钟后再试"
    token = current_language.set("en")
    try:
        assert RateLimited(86_000).texts()[1] == "Try again in 24 hours"
    finally:
        current_language.reset(token)
    moment = datetime(2026, 12, 2, 13, 30, tzinfo=UTC)
    assert format_local(moment) == "2026-12-02 21:30"  # Asia/Shanghai, not 13:30+00:00
    assert format_local(moment, "Europe/London") == "2026-12-02 13:30"


async def test_quality_values_choose_the_language(client: ApiClient) -> None:
    front = await shopfront(client)
    url = f"/v1/merchants/{front.merchant_id}/campaigns"
    answers = {}
    for header in (None, "en", "en-GB,en;q=0.9", "fr, en;q=0.5, zh-CN;q=0.8", "zh;q=0.2, en"):
        headers = {**front.clerk.headers, **({"Accept-Language": header} if header else {})}
        r = await client.post(url, json=campaign_body(), headers=headers)
        answers[header] = assert_problem(r, 403, "forbidden")["detail"]
    assert answers[None] == answers["fr, en;q=0.5, zh-CN;q=0.8"] == "需要店长或更高的角色"
    assert answers["en"] == answers["en-GB,en;q=0.9"] == answers["zh;q=0.2, en"]
    assert answers["en"] == "This needs the manager role or higher"


async def test_coupon_times_are_local_and_in_the_readers_language(
    client: ApiClient, sessionmaker: Any
) -> None:
    from datetime import UTC, datetime

    from tests.coupons.helpers import claim, move_coupon_window

    front = await shopfront(client)
    campaign = await published_campaign(client, front)
    coupon = await claim(client, campaign["id"], await client.register())
    until = datetime(2026, 1, 5, 16, 0, tzinfo=UTC)  # 2026-01-06 00:00 in Shanghai
    await move_coupon_window(
        sessionmaker, coupon["id"], valid_from=datetime(2025, 12, 1, tzinfo=UTC), valid_until=until
    )
    body = {"code": coupon["code"], "shop_id": front.shop_id, "order_amount": money(6000)}
    url = "/v1/counter/redeem"
    zh = assert_problem(
        await client.post(url, json=body, headers=front.clerk.headers), 409, "coupon_expired"
    )
    en = assert_problem(
        await client.post(url, json=body, headers={**front.clerk.headers, **EN}),
        409,
        "coupon_expired",
    )
    assert zh["detail"] == "优惠券已于 2026-01-06 00:00 过期"
    assert en["detail"] == "The coupon expired at 2026-01-06 00:00"
    assert zh["valid_until"] == en["valid_until"] == until.isoformat()  # machines: ISO, UTC


async def test_http_errors_are_titled_in_the_readers_language(client: ApiClient) -> None:
    r = await client.delete("/v1/categories")
    zh = assert_problem(r, 405, "method_not_allowed")
    assert zh["title"] == zh["detail"] == "不支持该请求方法"
    r = await client.delete("/v1/categories", headers=EN)
    assert assert_problem(r, 405, "method_not_allowed")["title"] == "Method Not Allowed"
    r = await client.get("/v1/no-such-thing", headers=EN)
    assert assert_problem(r, 404, "not_found")["title"] == "Not Found"


async def test_an_unreadable_body_is_refused_in_the_readers_language(client: ApiClient) -> None:
    front = await shopfront(client)
    garbled = {**front.clerk.headers, "Content-Type": "application/json"}
    r = await client.post("/v1/counter/redeem", content=b"\xff\xfe{", headers=garbled)
    zh = assert_problem(r, 400, "bad_request")
    assert zh["title"] == zh["detail"] == "请求无法解析"
    r = await client.post("/v1/counter/redeem", content=b"\xff\xfe{", headers={**garbled, **EN})
    en = assert_problem(r, 400, "bad_request")
    assert (en["title"], en["detail"]) == ("Bad Request", "There was an error parsing the body")


async def test_cursor_refusals_are_localised(client: ApiClient) -> None:
    me = await client.register()
    url = "/v1/me/coupons?cursor=not-a-cursor"
    zh = assert_problem(await client.get(url, headers=me.headers), 422, "invalid_cursor")
    en = assert_problem(await client.get(url, headers={**me.headers, **EN}), 422, "invalid_cursor")
    assert zh["detail"] == "分页游标不是本服务签发的" or zh["detail"] == "分页游标无法解析"
    assert en["detail"] in (
        "The cursor was not issued by this server",
        "The cursor could not be decoded",
    )


def test_the_problem_check_catches_unreadable_texts() -> None:
    """The check every test's problem bodies pass through (tests/helpers.py) can fail."""
    assert unreadable({"title": "Conflict", "detail": "Minimum spend 5000 CNY"}, "en")
    assert unreadable({"title": "冲突", "detail": "valid_until must be after valid_from"}, "zh-CN")
    assert unreadable({"title": "冲突", "detail": "per_user_limit 已达上限"}, "zh-CN")
    assert not unreadable({"title": "未达到最低消费金额", "detail": "最低消费¥50.00"}, "zh-CN")
    pydantic = {
        "code": "validation_error",
        "title": "The request is not valid",
        "detail": "body.order_amount: Field required",
        "errors": [{"loc": ["body", "order_amount"], "msg": "Field required", "type": "missing"}],
    }
    assert not unreadable(pydantic, "en")  # FastAPI's own 422 text may name the field
