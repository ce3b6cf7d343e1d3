from __future__ import annotations

import asyncio
import uuid

from tests.helpers import ApiClient, assert_problem, create_shop


async def test_reviews_summary_reply_and_rating_sort(client: ApiClient) -> None:
    owner = await client.register()
    merchant = await client.merchant(owner)
    manager = await client.staff(owner, merchant["id"], "manager")
    stranger_owner = await client.register()
    shop = await create_shop(client, owner, merchant["id"])
    other = await create_shop(client, owner, merchant["id"], name="二号店",
                              location={"lat": 31.2305, "lng": 121.4737})  # fmt: skip
    url = f"/v1/shops/{shop['id']}/reviews"
    people = [await client.register() for _ in range(4)]

    # concurrent reviews: the shop's count and average stay exact
    stars = [5, 4, 4, 2]
    responses = await asyncio.gather(*[
        client.post(url, headers=p.headers, json={"rating": s, "text": "好吃"})
        for p, s in zip(people, stars, strict=True)])  # fmt: skip
    assert all(r.status_code == 201 for r in responses), [r.text for r in responses]
    assert responses[0].json()["verified"] is False

    # a reference that is not the reviewer's own consumption leaves the review a general one,
    # so it cannot be a second review (verified reviews: tests/api/test_wiring.py)
    redemption = str(uuid.uuid4())
    body = {"rating": 3, "text": "二次", "redemption_id": redemption}
    assert_problem(await client.post(url, headers=people[0].headers, json=body),
                   409, "review_exists")  # fmt: skip
    assert_problem(await client.post(url, headers=people[1].headers, json={"rating": 1}),
                   409, "review_exists")  # fmt: skip
    for bad in ({"rating": 0}, {"rating": 6}, {"rating": 3, "redemption_id": redemption,
                                               "order_id": redemption}):  # fmt: skip
        assert_problem(await client.post(url, headers=people[2].headers, json=bad),
                       422, "validation_error")  # fmt: skip
    assert_problem(await client.post(url, json={"rating": 5}), 401, "unauthorized")

    page = (await client.get(url, params={"limit": 3})).json()
    assert len(page["items"]) == 3 and page["next_cursor"]
    summary = page["summary"]
    assert summary["all"] == {"count": 4, "average": 3.75,
                              "by_star": {"1": 0, "2": 1, "3": 0, "4": 2, "5": 1}}  # fmt: skip
    assert summary["verified"]["count"] == 0 and summary["verified"]["average"] is None
    assert summary["general"]["count"] == 4
    rest = (await client.get(url, params={"cursor": page["next_cursor"]})).json()
    ids = [i["id"] for i in page["items"] + rest["items"]]
    assert len(ids) == len(set(ids)) == 4
    assert (await client.get(url, params={"verified": "true"})).json()["items"] == []

    got = (await client.get(f"/v1/shops/{shop['id']}")).json()
    assert got["review_count"] == 4 and got["rating"] == 3.75

    review_id = ids[0]
    r = await client.put(f"/v1/reviews/{review_id}/reply", headers=manager.headers,
                         json={"text": "谢谢光临"})  # fmt: skip
    assert r.status_code == 200 and r.json()["reply"]["text"] == "谢谢光临"
    r = await client.put(f"/v1/reviews/{review_id}/reply", headers=stranger_owner.headers,
                         json={"text": "spam"})  # fmt: skip
    assert_problem(r, 404, "review_not_found")
    r = await client.put(f"/v1/reviews/{review_id}/reply", headers=people[0].headers,
                         json={"text": "me"})  # fmt: skip
    assert_problem(r, 404, "review_not_found")

    await client.post(f"/v1/shops/{other['id']}/reviews", headers=people[0].headers,
                      json={"rating": 5})  # fmt: skip
    by_rating = await client.get("/v1/shops/nearby", params={"lat": 31.2304, "lng": 121.4737,
                                                             "sort": "rating"})  # fmt: skip
    assert [i["id"] for i in by_rating.json()["items"]] == [other["id"], shop["id"]]
    by_distance = await client.get("/v1/shops/nearby", params={"lat": 31.2304, "lng": 121.4737})
    assert [i["id"] for i in by_distance.json()["items"]] == [shop["id"], other["id"]]
    assert_problem(await client.get(f"/v1/shops/{uuid.uuid4()}/reviews"), 404, "shop_not_found")
