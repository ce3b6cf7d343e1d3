"""Every customers route: strangers and staff of another merchant get 404, and a merchant's
routes never reach another merchant's customers, segments, plans or complaints."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.customers.helpers import customer, shop_with_owner
from tests.helpers import ApiClient, assert_problem


def routes(mid: str, ids: dict[str, str]) -> list[tuple[str, str, Any]]:
    m = f"/v1/merchants/{mid}"
    cid = ids["customer"]
    return [
        ("GET", f"{m}/customers", None),
        ("GET", f"{m}/customers/export.csv", None),
        ("GET", f"{m}/customers/{cid}", None),
        ("GET", f"{m}/customers/{cid}/timeline", None),
        ("PATCH", f"{m}/customers/{cid}", {"notes": "x"}),
        ("GET", f"{m}/customer-access-log", None),
        ("POST", f"{m}/segments", {"name": "s", "rules": {"visits": {"min": 1}}}),
        ("GET", f"{m}/segments", None),
        ("POST", f"{m}/segments/preview", {"visits": {"min": 1}}),
        ("GET", f"{m}/segments/{ids['segment']}", None),
        ("GET", f"{m}/analytics", None),
        ("POST", f"{m}/analytics/rfm-refresh", None),
        ("POST", f"{m}/follow-ups", {"customer_id": cid, "method": "sms", "content": "x"}),
        ("GET", f"{m}/follow-ups", None),
        ("GET", f"{m}/follow-ups/due", None),
        (
            "POST",
            f"{m}/follow-up-plans",
            {"name": "p", "trigger": "first_purchase", "offsets_days": [3]},
        ),
        ("GET", f"{m}/follow-up-plans", None),
        ("PATCH", f"{m}/follow-up-plans/{ids['plan']}", {"active": False}),
        ("POST", f"{m}/complaints", {"customer_id": cid, "category": "other", "content": "x"}),
        ("GET", f"{m}/complaints", None),
        ("GET", f"{m}/complaints/stats", None),
        ("GET", f"{m}/complaints/{ids['complaint']}", None),
        ("PATCH", f"{m}/complaints/{ids['complaint']}", {"status": "closed"}),
        ("GET", f"{m}/reports/customer-service", None),
        ("GET", f"{m}/reports/customer-service.csv", None),
    ]


async def _merchant_with_data(client: ApiClient, sessionmaker: Any) -> tuple[Any, str, dict]:  # type: ignore[type-arg]
    owner, mid = await shop_with_owner(client)
    _, cid = await customer(client, sessionmaker, mid, [("coupon_redeemed", datetime.now(UTC), 0)])
    h = owner.headers
    seg = await client.post(
        f"/v1/merchants/{mid}/segments",
        json={"name": "s", "rules": {"visits": {"min": 1}}},
        headers=h,
    )
    plan = await client.post(
        f"/v1/merchants/{mid}/follow-up-plans",
        json={"name": "p", "trigger": "first_purchase", "offsets_days": [3]},
        headers=h,
    )
    comp = await client.post(
        f"/v1/merchants/{mid}/complaints",
        json={"customer_id": cid, "category": "other", "content": "x"},
        headers=h,
    )
    ids = {
        "customer": cid,
        "segment": seg.json()["id"],
        "plan": plan.json()["id"],
        "complaint": comp.json()["id"],
    }
    return owner, mid, ids


async def test_strangers_and_other_staff_get_404(client: ApiClient, sessionmaker) -> None:  # type: ignore[no-untyped-def]
    owner_a, mid_a, ids_a = await _merchant_with_data(client, sessionmaker)
    owner_b, mid_b, ids_b = await _merchant_with_data(client, sessionmaker)
    clerk_b = await client.staff(owner_b, mid_b, "clerk")
    stranger = await client.register()
    for actor in (stranger, owner_b, clerk_b):
        for method, path, body in routes(mid_a, ids_a):
            r = await client.request(method, path, json=body, headers=actor.headers)
            assert_problem(r, 404, "merchant_not_found")
    for method, path, _ in routes(mid_a, ids_a):
        r = await client.request(method, path)
        assert r.status_code == 401, (method, path)

    # B's own routes with A's ids: nothing of A is reachable
    b = f"/v1/merchants/{mid_b}"
    cid_a = ids_a["customer"]
    foreign: list[tuple[str, str, Any, str]] = [
        ("GET", f"{b}/customers/{cid_a}", None, "customer_not_found"),
        ("GET", f"{b}/customers/{cid_a}/timeline", None, "customer_not_found"),
        ("PATCH", f"{b}/customers/{cid_a}", {"notes": "x"}, "customer_not_found"),
        ("GET", f"{b}/segments/{ids_a['segment']}", None, "segment_not_found"),
        (
            "PATCH",
            f"{b}/follow-up-plans/{ids_a['plan']}",
            {"active": False},
            "follow_up_plan_not_found",
        ),
        ("GET", f"{b}/complaints/{ids_a['complaint']}", None, "complaint_not_found"),
        (
            "PATCH",
            f"{b}/complaints/{ids_a['complaint']}",
            {"status": "closed"},
            "complaint_not_found",
        ),
        (
            "POST",
            f"{b}/follow-ups",
            {"customer_id": cid_a, "method": "sms", "content": "x"},
            "customer_not_found",
        ),
        (
            "POST",
            f"{b}/complaints",
            {"customer_id": cid_a, "category": "other", "content": "x"},
            "customer_not_found",
        ),
    ]
    for method, path, body, code in foreign:
        r = await client.request(method, path, json=body, headers=owner_b.headers)
        assert_problem(r, 404, code)
    r = await client.get(
        f"/v1/merchants/{mid_b}/customers",
        params={"segment_id": ids_a["segment"]},
        headers=owner_b.headers,
    )
    assert_problem(r, 404, "segment_not_found")
    listed = await client.get(f"/v1/merchants/{mid_b}/customers", headers=owner_b.headers)
    assert [c["id"] for c in listed.json()["items"]] == [ids_b["customer"]]
    comps = await client.get(f"/v1/merchants/{mid_b}/complaints", headers=owner_b.headers)
    assert [c["id"] for c in comps.json()["items"]] == [ids_b["complaint"]]
    fus = await client.get(
        f"/v1/merchants/{mid_b}/follow-ups",
        params={"customer_id": ids_a["customer"]},
        headers=owner_b.headers,
    )
    assert fus.json()["items"] == []
    assert owner_a
