"""Changing what a shop sells: offerings edited and archived (orders keep their price),
photos deleted and reordered."""

from __future__ import annotations

import asyncio
import io
import uuid

from PIL import Image

from core.settings import Settings
from merchants.service import photo_path
from tests.helpers import ApiClient, assert_problem
from tests.orders.helpers import make_store, money


def _png(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), colour).save(out, "PNG")
    return out.getvalue()


async def test_offering_edit_and_archive(client: ApiClient) -> None:
    store = await make_store(client)
    url = f"/v1/offerings/{store.noodles['id']}"
    sold = await store.order(client, quantity=2)
    assert sold["items"][0]["unit_price"] == money(3800)

    r = await client.patch(url, json={"price": money(4200), "name": " 红烧牛肉面 "},
                           headers=store.manager.headers)  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["price"] == money(4200) and r.json()["name"] == "红烧牛肉面"
    for price in (0, -1):
        r = await client.patch(url, json={"price": {"amount": price, "currency": "CNY"}},
                               headers=store.manager.headers)  # fmt: skip
        assert_problem(r, 422, "price_not_positive" if price == 0 else "validation_error")
    r = await client.post(f"/v1/shops/{store.shop_id}/offerings", headers=store.owner.headers,
                          json={"name": "白送", "price": money(0)})  # fmt: skip
    assert_problem(r, 422, "price_not_positive")
    for body in ({"name": None}, {"price": None}, {"name": ""}, {"unknown": 1},
                 {"name": "面" * 121}, {"photo_id": str(uuid.uuid4())}):  # fmt: skip
        r = await client.patch(url, json=body, headers=store.manager.headers)
        assert r.status_code in (404, 422), (body, r.text)
    assert_problem(await client.patch(url, json={"price": money(1)}, headers=store.clerk.headers),
                   403, "forbidden")  # fmt: skip
    stranger = await client.register()
    assert_problem(await client.patch(url, json={"price": money(1)}, headers=stranger.headers),
                   404, "offering_not_found")  # fmt: skip

    again = await store.order(client)
    assert again["items"][0]["unit_price"] == money(4200)
    first = await client.get(f"/v1/orders/{sold['id']}", headers=store.customer.headers)
    assert first.json()["items"][0]["unit_price"] == money(3800)  # its snapshot

    r = await client.delete(url, headers=store.manager.headers)
    assert r.status_code == 204
    assert (await client.delete(url, headers=store.manager.headers)).status_code == 204
    menu = f"/v1/shops/{store.shop_id}/offerings"
    assert store.noodles["id"] not in {o["id"] for o in (await client.get(menu)).json()["items"]}
    everything = (await client.get(menu, params={"include_archived": "true"})).json()["items"]
    assert {o["id"]: o["active"] for o in everything}[store.noodles["id"]] is False
    items = [{"offering_id": store.noodles["id"], "quantity": 1}]
    r = await client.post(f"/v1/shops/{store.shop_id}/orders", headers=store.customer.headers,
                          json={"items": items})  # fmt: skip
    assert_problem(r, 409, "offering_archived")
    first = await client.get(f"/v1/orders/{sold['id']}", headers=store.customer.headers)
    assert first.status_code == 200 and first.json()["items"][0]["unit_price"] == money(3800)

    r = await client.patch(url, json={"active": True}, headers=store.manager.headers)
    assert r.status_code == 200 and r.json()["active"] is True
    assert (await store.order(client))["items"][0]["unit_price"] == money(4200)


async def test_photos_delete_and_reorder(client: ApiClient, test_settings: Settings) -> None:
    store = await make_store(client)
    url = f"/v1/shops/{store.shop_id}/photos"
    ids = []
    for colour in ((255, 0, 0), (0, 255, 0), (0, 0, 255)):
        r = await client.post(url, headers=store.owner.headers,
                              files={"file": ("p.png", _png(colour), "image/png")})  # fmt: skip
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    listed = (await client.get(url)).json()["items"]
    assert [p["id"] for p in listed] == ids and [p["position"] for p in listed] == [0, 1, 2]

    order = f"{url}/order"
    r = await client.put(order, json={"photo_ids": [ids[2], ids[0]]}, headers=store.owner.headers)
    assert r.status_code == 200, r.text
    assert [p["id"] for p in r.json()] == [ids[2], ids[0], ids[1]]
    page1 = (await client.get(url, params={"limit": 2})).json()
    page2 = (await client.get(url, params={"limit": 2, "cursor": page1["next_cursor"]})).json()
    assert [p["id"] for p in page1["items"] + page2["items"]] == [ids[2], ids[0], ids[1]]
    for named in ([ids[0], ids[0]], [str(uuid.uuid4())], []):
        r = await client.put(order, json={"photo_ids": named}, headers=store.owner.headers)
        assert r.status_code == 422, r.text
    # two reorders at once: one wins whole, positions never mix
    await asyncio.gather(
        client.put(order, json={"photo_ids": ids}, headers=store.owner.headers),
        client.put(order, json={"photo_ids": ids[::-1]}, headers=store.owner.headers),
    )
    final = [p["id"] for p in (await client.get(url)).json()["items"]]
    assert final in (ids, ids[::-1])

    # an offering showing the photo loses it when the photo goes; the files go too
    r = await client.patch(f"/v1/offerings/{store.noodles['id']}", json={"photo_id": ids[1]},
                           headers=store.owner.headers)  # fmt: skip
    assert r.json()["photo_id"] == ids[1]
    files = [photo_path(test_settings.media_root, uuid.UUID(ids[1]), "image/png", t)
             for t in (False, True)]  # fmt: skip
    assert all(f.exists() for f in files)
    assert_problem(await client.delete(f"/v1/photos/{ids[1]}", headers=store.clerk.headers),
                   403, "forbidden")  # fmt: skip
    r = await client.delete(f"/v1/photos/{ids[1]}", headers=store.owner.headers)
    assert r.status_code == 204
    assert not any(f.exists() for f in files)
    assert_problem(await client.get(f"/v1/photos/{ids[1]}"), 404, "photo_not_found")
    offering = await client.get(f"/v1/shops/{store.shop_id}/offerings")
    assert {o["id"]: o["photo_id"] for o in offering.json()["items"]}[store.noodles["id"]] is None
    stranger = await client.register()
    assert_problem(await client.delete(f"/v1/photos/{ids[0]}", headers=stranger.headers),
                   404, "photo_not_found")  # fmt: skip
