from __future__ import annotations

import asyncio
import io
import uuid
from datetime import UTC, datetime, timedelta

import zxingcpp
from PIL import Image
from sqlalchemy import func, select

from coupons import codes
from coupons import service as coupons_service
from coupons.models import ClaimCounter, Coupon
from tests.coupons.helpers import claim, fast_users, published_campaign, shopfront
from tests.helpers import ApiClient, assert_problem, create_shop


async def test_five_hundred_parallel_claims_of_one_hundred(
    client: ApiClient,
    sessionmaker,
    test_settings,  # type: ignore[no-untyped-def]
) -> None:
    front = await shopfront(client)
    campaign = await published_campaign(client, front, total_quantity=100)
    users = await fast_users(sessionmaker, test_settings, 500)
    responses = await asyncio.gather(
        *(client.post(f"/v1/campaigns/{campaign['id']}/claim", headers=u.headers) for u in users)
    )
    statuses = [r.status_code for r in responses]
    assert statuses.count(201) == 100, sorted(set(statuses))
    assert all(r.json()["code"] == "campaign_sold_out" for r in responses if r.status_code != 201)
    async with sessionmaker() as session:
        coupons = (await session.execute(select(func.count()).select_from(Coupon))).scalar_one()
        counters = (await session.execute(select(func.sum(ClaimCounter.count)))).scalar_one()
    assert coupons == counters == 100
    view = (await client.get(f"/v1/campaigns/{campaign['id']}")).json()
    assert view["remaining"] == 0 and view["claimable_now"] is False


async def test_user_racing_themself(client: ApiClient) -> None:
    front = await shopfront(client)
    campaign = await published_campaign(client, front, total_quantity=None)
    customer = await client.register()
    responses = await asyncio.gather(
        *(
            client.post(f"/v1/campaigns/{campaign['id']}/claim", headers=customer.headers)
            for _ in range(30)
        )
    )
    statuses = [r.status_code for r in responses]
    assert statuses.count(201) == 1, statuses
    assert all(r.json()["code"] == "claim_limit_reached" for r in responses if r.status_code != 201)
    # per_user_limit 3: exactly three
    three = await published_campaign(client, front, per_user_limit=3)
    responses = await asyncio.gather(
        *(
            client.post(f"/v1/campaigns/{three['id']}/claim", headers=customer.headers)
            for _ in range(20)
        )
    )
    assert [r.status_code for r in responses].count(201) == 3


async def test_wallet_pages_and_filters(client: ApiClient) -> None:
    front = await shopfront(client)
    customer = await client.register()
    ids = []
    for _ in range(5):
        campaign = await published_campaign(client, front)
        ids.append((await claim(client, campaign["id"], customer))["id"])
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/v1/me/coupons", params=params, headers=customer.headers)).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))
    first = (await client.get("/v1/me/coupons?status=active", headers=customer.headers)).json()[
        "items"
    ][0]
    assert first["campaign"]["name"] and first["code_display"].count("-") == 2
    assert_problem(
        await client.get("/v1/me/coupons?cursor=zzz", headers=customer.headers),
        422,
        "invalid_cursor",
    )
    assert_problem(
        await client.get("/v1/me/coupons?status=lost", headers=customer.headers),
        422,
        "validation_error",
    )
    assert (await client.get("/v1/me/coupons")).status_code == 401


async def test_bulk_issue(client: ApiClient, sessionmaker, test_settings) -> None:  # type: ignore[no-untyped-def]
    front = await shopfront(client)
    users = await fast_users(sessionmaker, test_settings, 12)
    listed = [u.user_id for u in users[:8]]
    campaign = await published_campaign(
        client, front, total_quantity=10, audience={"kind": "customers", "user_ids": listed}
    )
    url = f"/v1/campaigns/{campaign['id']}/issue"
    assert_problem(await client.post(url, headers=front.clerk.headers), 403, "forbidden")
    r = await client.post(url, headers=front.owner.headers)
    assert r.status_code == 200, r.text
    assert r.json() == {"issued": 8, "skipped": 0}
    # again: everyone is at the per-user limit
    assert (await client.post(url, headers=front.owner.headers)).json() == {
        "issued": 0,
        "skipped": 8,
    }
    # explicit recipients beyond the remaining quantity (2 left)
    r = await client.post(
        url, json={"user_ids": [u.user_id for u in users[8:]]}, headers=front.owner.headers
    )
    assert r.json() == {"issued": 2, "skipped": 2}
    wallet = (await client.get("/v1/me/coupons", headers=users[0].headers)).json()["items"]
    assert len(wallet) == 1 and wallet[0]["source"] == "issue"
    r = await client.post(url, json={"user_ids": [str(uuid.uuid4())]}, headers=front.owner.headers)
    assert_problem(r, 422, "validation_error")
    stats = (
        await client.get(f"/v1/campaigns/{campaign['id']}/stats", headers=front.clerk.headers)
    ).json()
    assert (stats["issued"], stats["claimed"]) == (10, 0)
    public = await published_campaign(client, front)
    assert_problem(
        await client.post(f"/v1/campaigns/{public['id']}/issue", headers=front.owner.headers),
        422,
        "validation_error",
    )


async def test_concurrent_bulk_issues_and_claims_respect_quantity(
    client: ApiClient,
    sessionmaker,
    test_settings,  # type: ignore[no-untyped-def]
) -> None:
    front = await shopfront(client)
    users = await fast_users(sessionmaker, test_settings, 40)
    campaign = await published_campaign(client, front, total_quantity=25)
    ids = [u.user_id for u in users]
    calls = [
        client.post(
            f"/v1/campaigns/{campaign['id']}/issue",
            json={"user_ids": ids[i::4]},
            headers=front.owner.headers,
        )
        for i in range(4)
    ] + [client.post(f"/v1/campaigns/{campaign['id']}/claim", headers=u.headers) for u in users]
    responses = await asyncio.gather(*calls)
    issued = sum(r.json()["issued"] for r in responses[:4])
    claimed = sum(1 for r in responses[4:] if r.status_code == 201)
    assert issued + claimed == 25
    async with sessionmaker() as session:
        per_user = (await session.execute(select(ClaimCounter.count))).scalars().all()
        assert max(per_user) <= 1 and sum(per_user) == 25


async def test_stats_by_day_in_merchant_timezone(client: ApiClient) -> None:
    owner = await client.register()
    merchant = await client.merchant(owner, timezone="America/Los_Angeles")
    shop = await create_shop(client, owner, merchant["id"])
    from tests.coupons.helpers import Shopfront

    front = Shopfront(owner, merchant["id"], shop["id"], owner)
    campaign = await published_campaign(client, front, min_spend=None)
    customers = [await client.register() for _ in range(3)]
    coupons = [await claim(client, campaign["id"], c) for c in customers]
    await client.post(
        "/v1/counter/redeem",
        json={"code": coupons[0]["code"], "shop_id": shop["id"]},
        headers=owner.headers,
    )
    stats = (
        await client.get(f"/v1/campaigns/{campaign['id']}/stats", headers=owner.headers)
    ).json()
    assert stats["timezone"] == "America/Los_Angeles"
    assert (stats["issued"], stats["claimed"], stats["redeemed"], stats["expired"]) == (3, 3, 1, 0)
    assert stats["redemption_rate"] == round(1 / 3, 4)
    from zoneinfo import ZoneInfo

    today = datetime.now(ZoneInfo("America/Los_Angeles")).date().isoformat()
    assert stats["by_day"] == [
        {"date": today, "issued": 3, "claimed": 3, "redeemed": 1, "reversed": 0}
    ]
    stranger = await client.register()
    assert_problem(
        await client.get(f"/v1/campaigns/{campaign['id']}/stats", headers=stranger.headers),
        404,
        "campaign_not_found",
    )


async def test_paper_sheet(client: ApiClient, test_settings) -> None:  # type: ignore[no-untyped-def]
    front = await shopfront(client)
    campaign = await published_campaign(client, front, total_quantity=20, min_spend=None)
    url = f"/v1/campaigns/{campaign['id']}/paper-sheet.pdf"
    assert_problem(await client.get(url, headers=front.clerk.headers), 403, "forbidden")
    r = await client.get(url, params={"count": 14}, headers=front.owner.headers)
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert (
        r.content.startswith(b"%PDF")
        and r.content.count(b"/Type /Page\n") + r.content.count(b"/Type /Page\r") >= 0
    )
    again = await client.get(url, params={"count": 14}, headers=front.owner.headers)
    assert again.status_code == 200
    view = (await client.get(f"/v1/campaigns/{campaign['id']}")).json()
    assert view["remaining"] == 6  # the same sheet again issues nothing new
    assert_problem(
        await client.get(url, params={"count": 7, "start": 14}, headers=front.owner.headers),
        409,
        "campaign_sold_out",
    )


async def test_paper_coupon_qr_decodes_and_redeems(
    client: ApiClient,
    sessionmaker,
    test_settings,  # type: ignore[no-untyped-def]
) -> None:
    """The sheet's QR images decode to signed payloads that redeem (no holder needed)."""
    front = await shopfront(client)
    campaign = await published_campaign(client, front, total_quantity=5, min_spend=None)
    keys = test_settings.signing_keys()
    async with sessionmaker.begin() as session:
        _, paper = await coupons_service.issue_paper(
            session, campaign_id=uuid.UUID(campaign["id"]), start=0, count=3, now=datetime.now(UTC)
        )
    pages = codes.paper_sheet_pages(
        title="开业酬宾", subtitle="10 CNY off", footer="2026",
        entries=[(c.code, codes.qr_payload(c.code, keys)) for c in paper],
    )  # fmt: skip
    assert len(pages) == 1 and pages[0].size == codes.A4_PX
    decoded = sorted(b.text for b in zxingcpp.read_barcodes(pages[0].convert("L")))
    assert decoded == sorted(codes.qr_payload(c.code, keys) for c in paper)
    r = await client.post(
        "/v1/counter/redeem", json={"qr": decoded[0], "shop_id": front.shop_id},
        headers=front.clerk.headers,
    )  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["coupon"]["source"] == "paper"
    assert len(codes.paper_sheet_pages(title="t", subtitle="s", entries=[("0" * 11, "x")] * 13,
                                       footer="f")) == 2  # fmt: skip
    png = Image.open(io.BytesIO(codes.qr_png("hello", 128)))
    assert png.width <= 128


async def test_has_offers_hook(client: ApiClient, sessionmaker) -> None:  # type: ignore[no-untyped-def]
    front = await shopfront(client)
    extra_shop = await create_shop(client, front.owner, front.merchant_id, name="分店")
    quiet = await shopfront(client, name="没有活动")
    await published_campaign(client, front, shop_ids=[front.shop_id])
    pairs = [
        (uuid.UUID(front.shop_id), uuid.UUID(front.merchant_id)),
        (uuid.UUID(extra_shop["id"]), uuid.UUID(front.merchant_id)),
        (uuid.UUID(quiet.shop_id), uuid.UUID(quiet.merchant_id)),
    ]
    now = datetime.now(UTC)
    async with sessionmaker() as session:
        found = await coupons_service.shops_with_claimable_offers(session, shops=pairs, now=now)
        assert found == {uuid.UUID(front.shop_id)}
        later = await coupons_service.shops_with_claimable_offers(
            session, shops=pairs, now=now + timedelta(days=8)
        )
        assert later == set()
