from __future__ import annotations

import uuid

from tests.helpers import ApiClient, assert_problem


async def test_create_merchant_makes_caller_owner(client: ApiClient) -> None:
    owner = await client.register()
    r = await client.post(
        "/v1/merchants",
        json={"name": "洁净洗衣", "contact_phone": "021 6212 3456"},
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text
    merchant = r.json()
    assert merchant["timezone"] == "Asia/Shanghai"
    assert merchant["contact_phone"] == "+862162123456"
    r = await client.get(f"/v1/merchants/{merchant['id']}/staff", headers=owner.headers)
    assert [s["role"] for s in r.json()] == ["owner"]


async def test_merchant_timezone_is_validated(client: ApiClient) -> None:
    owner = await client.register()
    r = await client.post(
        "/v1/merchants", json={"name": "x", "timezone": "Mars/Olympus"}, headers=owner.headers
    )
    assert_problem(r, 422, "validation_error")
    r = await client.post(
        "/v1/merchants", json={"name": "x", "timezone": "Europe/Paris"}, headers=owner.headers
    )
    assert r.json()["timezone"] == "Europe/Paris"


async def test_patch_merchant_needs_manager(client: ApiClient) -> None:
    owner = await client.register()
    merchant = await client.merchant(owner)
    clerk = await client.staff(owner, merchant["id"], "clerk")
    manager = await client.staff(owner, merchant["id"], "manager")
    stranger = await client.register()
    url = f"/v1/merchants/{merchant['id']}"

    assert_problem(
        await client.patch(url, json={"name": "new"}, headers=clerk.headers), 403, "forbidden"
    )
    assert_problem(
        await client.patch(url, json={"name": "new"}, headers=stranger.headers),
        404,
        "merchant_not_found",
    )
    r = await client.patch(
        url, json={"name": "新名字", "timezone": "Asia/Urumqi"}, headers=manager.headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "新名字" and r.json()["timezone"] == "Asia/Urumqi"


async def test_merchant_sms_sign_name_follows_aliyuns_rule(client: ApiClient) -> None:
    """The merchant's SMS signature: 2-12 Chinese characters, letters or digits (Aliyun's
    rule); anything else is refused whole; null goes back to the platform's signature."""
    owner = await client.register()
    merchant = await client.merchant(owner)
    url = f"/v1/merchants/{merchant['id']}"
    assert merchant["sms_sign_name"] is None
    for bad in (
        "王",
        "街角咖啡街角咖啡街角咖啡街",
        "老王 面馆",
        "【老王面馆】",
        "老王面馆!",
        "",
        "café",
    ):
        r = await client.patch(
            url, json={"name": "改名", "sms_sign_name": bad}, headers=owner.headers
        )
        assert_problem(r, 422, "validation_error")
    assert (await client.get(url)).json()["name"] == merchant["name"]  # nothing half-applied
    for good in ("老王面馆", "Corner2", "街角咖啡街角咖啡街角咖啡"):
        r = await client.patch(url, json={"sms_sign_name": good}, headers=owner.headers)
        assert r.status_code == 200 and r.json()["sms_sign_name"] == good, r.text
    r = await client.patch(url, json={"sms_sign_name": None}, headers=owner.headers)
    assert r.status_code == 200 and r.json()["sms_sign_name"] is None


async def test_staff_roles_and_grants(client: ApiClient) -> None:
    owner = await client.register()
    merchant = await client.merchant(owner)
    manager = await client.staff(owner, merchant["id"], "manager")
    candidate = await client.register()
    url = f"/v1/merchants/{merchant['id']}/staff"

    # a manager cannot create owners, but can add clerks, by phone
    r = await client.post(
        url, json={"user_id": candidate.user_id, "role": "owner"}, headers=manager.headers
    )
    assert_problem(r, 403, "forbidden")
    r = await client.post(
        url, json={"phone": candidate.phone, "role": "clerk"}, headers=manager.headers
    )
    assert r.status_code == 201 and r.json()["role"] == "clerk"
    await client.accept_invitation(candidate, r.json()["id"])
    r = await client.post(
        url, json={"phone": candidate.phone, "role": "clerk"}, headers=owner.headers
    )
    assert_problem(r, 409, "staff_exists")

    # clerks cannot manage staff
    assert_problem(await client.get(url, headers=candidate.headers), 403, "forbidden")

    # an id that names nobody is invited like any other (no enumeration oracle)
    r = await client.post(
        url, json={"user_id": str(uuid.uuid4()), "role": "clerk"}, headers=owner.headers
    )
    assert r.status_code == 201 and r.json()["status"] == "pending"
    r = await client.post(url, json={"role": "clerk"}, headers=owner.headers)
    assert_problem(r, 422, "validation_error")


async def test_last_owner_cannot_be_removed(client: ApiClient) -> None:
    owner = await client.register()
    merchant = await client.merchant(owner)
    r = await client.delete(
        f"/v1/merchants/{merchant['id']}/staff/{owner.user_id}", headers=owner.headers
    )
    assert_problem(r, 409, "conflict")
    clerk = await client.staff(owner, merchant["id"])
    r = await client.delete(
        f"/v1/merchants/{merchant['id']}/staff/{clerk.user_id}", headers=owner.headers
    )
    assert r.status_code == 204
    r = await client.get("/v1/me", headers=clerk.headers)
    assert r.json()["merchants"] == []


async def test_strangers_get_404_on_every_private_merchant_route(client: ApiClient) -> None:
    owner = await client.register()
    merchant = await client.merchant(owner)
    stranger = await client.register()
    other = await client.merchant(stranger, "别家")  # staff elsewhere is still a stranger here
    assert other["id"] != merchant["id"]
    mid = merchant["id"]
    calls = [
        ("PATCH", f"/v1/merchants/{mid}", {"name": "x"}),
        ("POST", f"/v1/merchants/{mid}/staff", {"user_id": stranger.user_id, "role": "owner"}),
        ("GET", f"/v1/merchants/{mid}/staff", None),
        ("DELETE", f"/v1/merchants/{mid}/staff/{owner.user_id}", None),
    ]
    for method, url, body in calls:
        r = await client.request(method, url, json=body, headers=stranger.headers)
        assert_problem(r, 404, "merchant_not_found")
    # and nothing changed
    r = await client.get(f"/v1/merchants/{mid}/staff", headers=owner.headers)
    assert [s["user_id"] for s in r.json()] == [owner.user_id]


async def test_unknown_merchant_is_404(client: ApiClient) -> None:
    r = await client.get(f"/v1/merchants/{uuid.uuid4()}")
    assert_problem(r, 404, "merchant_not_found")
    r = await client.get("/v1/merchants/not-a-uuid")
    assert_problem(r, 422, "validation_error")
