from __future__ import annotations

import uuid

from tests.helpers import ApiClient, assert_problem, create_shop


async def test_create_and_read_shop(client: ApiClient) -> None:
    owner = await client.register()
    merchant = await client.merchant(owner)
    shop = await create_shop(client, owner, merchant["id"], phone="021-62123456")
    assert shop["location"] == {"lat": 31.2304, "lng": 121.4737}
    assert shop["timezone"] == "Asia/Shanghai"
    assert shop["phone"] == "+862162123456"
    r = await client.get(f"/v1/shops/{shop['id']}")
    assert r.status_code == 200 and r.json()["name"] == "静安店"


async def test_shop_validation_and_permissions(client: ApiClient) -> None:
    owner = await client.register()
    merchant = await client.merchant(owner)
    clerk = await client.staff(owner, merchant["id"], "clerk")
    stranger = await client.register()
    url = f"/v1/merchants/{merchant['id']}/shops"
    base = {"name": "x", "category": "dining", "location": {"lat": 31.2, "lng": 121.4},
            "address": "addr"}  # fmt: skip
    for bad in ({"category": "spaceport"}, {"location": {"lat": 91, "lng": 0}},
                {"opening_hours": [{"day": 7, "open": "09:00", "close": "10:00"}]},
                {"opening_hours": [{"day": 1, "open": "9am", "close": "10:00"}]}):  # fmt: skip
        assert_problem(await client.post(url, json=base | bad, headers=owner.headers),
                       422, "validation_error")  # fmt: skip
    assert_problem(await client.post(url, json=base, headers=clerk.headers), 403, "forbidden")
    assert_problem(await client.post(url, json=base, headers=stranger.headers),
                   404, "merchant_not_found")  # fmt: skip
    assert_problem(await client.get(f"/v1/shops/{uuid.uuid4()}"), 404, "shop_not_found")


async def test_staff_list_the_merchants_shops(client: ApiClient) -> None:
    owner = await client.register()
    merchant = await client.merchant(owner)
    clerk = await client.staff(owner, merchant["id"], "clerk")
    stranger = await client.register()
    names = ["C店", "A店", "B店"]
    for name in names:
        await create_shop(client, owner, merchant["id"], name=name)
    url = f"/v1/merchants/{merchant['id']}/shops"
    first = (await client.get(url, params={"limit": 2}, headers=clerk.headers)).json()
    rest = (await client.get(url, params={"cursor": first["next_cursor"]},
                             headers=clerk.headers)).json()  # fmt: skip
    assert [s["name"] for s in first["items"] + rest["items"]] == sorted(names)
    assert rest["next_cursor"] is None
    assert_problem(await client.get(url, headers=stranger.headers), 404, "merchant_not_found")
    bad = await client.get(url, params={"cursor": "eyJuYW1lIjoieCIsImlkIjoibm8ifQ"},
                           headers=clerk.headers)  # fmt: skip
    assert_problem(bad, 422, "invalid_cursor")
