"""Settlement statements: numbers, idempotency, frozen closed periods, CSV, fee rounding."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.settings import Settings, get_app_settings
from core.timezones import utcnow, zone
from orders import fees
from orders.models import Order
from tests.helpers import ApiClient, assert_problem
from tests.orders.helpers import Store, money, pay

BPS = st.integers(min_value=0, max_value=10_000)
TOTALS = st.lists(st.integers(min_value=0, max_value=10**10), max_size=60)


@given(total=st.integers(min_value=0, max_value=10**12), bps=BPS)
def test_fee_split_of_one_order(total: int, bps: int) -> None:
    fee, share = fees.split(total, bps)
    assert fee + share == total and 0 <= fee <= total
    # half up: within half a fen of the exact fee, and .5 goes up
    exact_twice = total * bps * 2
    assert abs(fee * 2 * 10_000 - exact_twice / 1) <= 10_000
    if (total * bps) % 10_000 == 5_000:
        assert fee * 10_000 > total * bps


@given(totals=TOTALS, bps=BPS)
def test_fee_split_adds_up_exactly(totals: list[int], bps: int) -> None:
    splits = [fees.split(t, bps) for t in totals]
    fee_sum = sum(f for f, _ in splits)
    share_sum = sum(s for _, s in splits)
    assert fee_sum + share_sum == sum(totals)
    # never more than half a fen per order away from the rate applied to the sum
    assert abs(fee_sum * 10_000 - sum(totals) * bps) <= 5_000 * len(totals)


async def _consume(client: ApiClient, store: Store, order_id: str) -> None:
    r = await client.post(
        f"/v1/counter/orders/{order_id}/consume",
        json={"shop_id": store.shop_id},
        headers=store.clerk.headers,
    )
    assert r.status_code == 200, r.text


@pytest.fixture
def fee_rate_333(client: ApiClient, test_settings: Settings) -> Iterator[None]:
    """The app's settings with a fee rate at which the test's totals round: 3.33 % of 38.00 is
    1.2654, of 114.00 is 3.7962 (the default 6 % divides them exactly)."""
    app: Any = client._transport.app  # type: ignore[attr-defined]
    rounded = test_settings.model_copy(update={"platform_fee_bps": 333})
    app.dependency_overrides[get_app_settings] = lambda: rounded
    yield
    app.dependency_overrides.pop(get_app_settings, None)


async def test_statement_numbers_csv_and_frozen_period(
    client: ApiClient,
    store: Store,
    test_settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    fee_rate_333: None,
) -> None:
    url = f"/v1/merchants/{store.merchant_id}/settlements"
    a = await pay(client, test_settings, await store.order(client, quantity=1))  # 38.00
    b = await pay(client, test_settings, await store.order(client, quantity=3))  # 114.00
    c = await pay(client, test_settings, await store.order(client, quantity=2))  # 76.00
    await store.order(client)  # unpaid: not in any figure
    await _consume(client, store, a["id"])
    await _consume(client, store, b["id"])
    r = await client.post(f"/v1/orders/{c['id']}/refund", headers=store.manager.headers)
    assert r.status_code == 200

    assert_problem(await client.get(url, headers=store.clerk.headers), 403, "forbidden")
    r = await client.get(url, headers=store.manager.headers)
    assert r.status_code == 200, r.text
    st_now = r.json()
    # by hand, per order, half up to the fen: 126.54 -> 127 and 379.62 -> 380 (the rate applied
    # to the sum, 506.16 -> 506, would be a fen short: fees are per order)
    expected_fees = 127 + 380
    assert st_now["status"] == "open" and st_now["fee_rate_bps"] == 333
    assert st_now["collected"] == money(3800 + 11_400 + 7600)
    assert st_now["refunded"] == money(7600)
    assert st_now["consumed"] == money(15_200)
    assert st_now["fees"] == money(expected_fees)
    assert st_now["payable"] == money(15_200 - expected_fees)
    assert (st_now["orders_paid"], st_now["orders_refunded"], st_now["orders_consumed"]) == (
        3,
        1,
        2,
    )
    again = (
        await client.get(url, params={"period": st_now["period"]}, headers=store.owner.headers)
    ).json()
    assert {k: v for k, v in again.items() if k != "generated_at"} == {
        k: v for k, v in st_now.items() if k != "generated_at"
    }

    csv_r = await client.get(
        f"{url}.csv", params={"period": st_now["period"]}, headers=store.owner.headers
    )
    assert csv_r.status_code == 200 and csv_r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(csv_r.content.decode("utf-8-sig"))))
    lines = [row for row in rows[1:] if row and not row[0].startswith("#")]
    assert len(lines) == 2
    assert sum(int(row[6]) for row in lines) == expected_fees
    assert sum(int(row[7]) for row in lines) == 15_200 - expected_fees
    assert all(int(row[5]) == int(row[6]) + int(row[7]) for row in lines)

    # move a's whole life into last month: that period is over, so its statement closes
    tz = zone("Asia/Shanghai")
    first_of_month = (
        utcnow().astimezone(tz).replace(day=1, hour=12, minute=0, second=0, microsecond=0)
    )
    last_month_moment = first_of_month - timedelta(days=3)
    last_period = last_month_moment.strftime("%Y-%m")
    async with sessionmaker.begin() as session:
        await session.execute(
            update(Order)
            .where(Order.id == uuid.UUID(a["id"]))
            .values(paid_at=last_month_moment, consumed_at=last_month_moment)
        )
    closed = (
        await client.get(url, params={"period": last_period}, headers=store.owner.headers)
    ).json()
    assert closed["status"] == "closed" and closed["closed_at"]
    assert closed["consumed"] == money(3800) and closed["fees"] == money(127)
    # a closed statement never changes, even if the data under it did
    async with sessionmaker.begin() as session:
        await session.execute(
            update(Order)
            .where(Order.id == uuid.UUID(b["id"]))
            .values(paid_at=last_month_moment, consumed_at=last_month_moment)
        )
    frozen = (
        await client.get(url, params={"period": last_period}, headers=store.owner.headers)
    ).json()
    assert frozen == closed

    future = (first_of_month + timedelta(days=40)).strftime("%Y-%m")
    assert_problem(
        await client.get(url, params={"period": future}, headers=store.owner.headers),
        422,
        "period_invalid",
    )
    assert_problem(
        await client.get(url, params={"period": "2026-13"}, headers=store.owner.headers),
        422,
        "validation_error",
    )
