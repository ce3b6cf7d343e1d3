from __future__ import annotations

from geo import crs
from tests.helpers import ApiClient, assert_problem, create_shop


async def test_categories_tree(client: ApiClient) -> None:
    r = await client.get("/v1/categories")
    assert r.status_code == 200
    roots = {node["code"]: node for node in r.json()}
    for code in ("dining", "laundry", "hair_beauty", "lodging", "public_service", "fitness",
                 "auto_service", "real_estate"):  # fmt: skip
        assert code in roots
    dining = roots["dining"]
    assert dining["labels"] == {"zh-CN": "餐饮美食", "en": "Dining"}
    assert dining["name"] == "餐饮美食"
    assert any(c["code"] == "noodles" and c["parent"] == "dining" for c in dining["children"])
    english = await client.get("/v1/categories", headers={"Accept-Language": "en"})
    assert english.json()[0]["name"] == "Dining"


async def test_patch_moves_and_delete(client: ApiClient) -> None:
    owner = await client.register()
    merchant = await client.merchant(owner)
    manager = await client.staff(owner, merchant["id"], "manager")
    clerk = await client.staff(owner, merchant["id"], "clerk")
    stranger = await client.register()
    shop = await create_shop(client, owner, merchant["id"])
    url = f"/v1/shops/{shop['id']}"

    # moved by a manager, given in GCJ-02 (as an AMap picker gives it), answered in GCJ-02
    glat, glng = crs.wgs84_to_gcj02(31.2400, 121.4500)
    body = {"location": {"lat": glat, "lng": glng}, "crs": "gcj02", "name": "静安新店",
            "opening_hours": [{"day": 4, "open": "18:00", "close": "02:00"}]}  # fmt: skip
    r = await client.patch(url, json=body, headers=manager.headers)
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "静安新店"
    assert abs(r.json()["location"]["lat"] - glat) < 1e-6
    wgs = (await client.get(url)).json()
    assert abs(wgs["location"]["lat"] - 31.2400) < 1e-6
    assert abs(wgs["location"]["lng"] - 121.4500) < 1e-6
    assert wgs["opening_hours"] == body["opening_hours"]
    bd = (await client.get(url, params={"crs": "bd09"})).json()["location"]
    assert (bd["lat"], bd["lng"]) != (wgs["location"]["lat"], wgs["location"]["lng"])
    near = await client.get("/v1/shops/nearby", params={"lat": 31.2400, "lng": 121.4500})
    assert near.json()["items"][0]["distance_m"] < 0.5

    assert_problem(await client.patch(url, json={"name": None}, headers=owner.headers),
                   422, "validation_error")  # fmt: skip
    assert_problem(await client.patch(url, json={"category": "moon"}, headers=owner.headers),
                   422, "validation_error")  # fmt: skip
    assert_problem(await client.patch(url, json={"name": "x"}, headers=clerk.headers),
                   403, "forbidden")  # fmt: skip
    assert_problem(await client.patch(url, json={"name": "x"}, headers=stranger.headers),
                   404, "shop_not_found")  # fmt: skip
    assert_problem(await client.delete(url, headers=stranger.headers), 404, "shop_not_found")
    assert_problem(await client.delete(url, headers=clerk.headers), 403, "forbidden")

    assert (await client.delete(url, headers=manager.headers)).status_code == 204
    assert_problem(await client.get(url), 404, "shop_not_found")
    assert_problem(await client.delete(url, headers=owner.headers), 404, "shop_not_found")
    near = await client.get("/v1/shops/nearby", params={"lat": 31.2400, "lng": 121.4500})
    assert near.json()["items"] == []


async def test_create_in_bd09_and_discovery_only(client: ApiClient) -> None:
    owner = await client.register()
    merchant = await client.merchant(owner, name="工商银行")
    blat, blng = crs.from_wgs84(31.2304, 121.4737, "bd09")
    shop = await create_shop(client, owner, merchant["id"], category="bank", crs="bd09",
                             discovery_only=True, location={"lat": blat, "lng": blng})  # fmt: skip
    assert abs(shop["location"]["lat"] - blat) < 1e-6
    got = (await client.get(f"/v1/shops/{shop['id']}")).json()
    assert abs(got["location"]["lat"] - 31.2304) < 1e-6 and got["discovery_only"] is True
    found = await client.get("/v1/shops/nearby",
                             params={"lat": 31.2304, "lng": 121.4737, "q": "银行"})  # fmt: skip
    assert [i["id"] for i in found.json()["items"]] == [shop["id"]]
    assert found.json()["items"][0]["discovery_only"] is True
