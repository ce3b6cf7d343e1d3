from __future__ import annotations

import asyncio

import jwt

from tests.helpers import ApiClient, assert_problem, fresh_phone


async def test_register_normalises_chinese_mobile_to_e164(client: ApiClient) -> None:
    r = await client.post(
        "/v1/auth/register",
        json={"phone": "138 1234 5678", "password": "long-enough", "display_name": "小王"},
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["phone"] == "+8613812345678"
    assert "password" not in r.text and "password_hash" not in body


async def test_register_with_email_only(client: ApiClient) -> None:
    r = await client.post(
        "/v1/auth/register",
        json={"email": "Amy@Example.COM", "password": "long-enough", "display_name": "Amy"},
    )
    assert r.status_code == 201
    assert r.json()["email"] == "amy@example.com"
    tokens = await client.login("AMY@example.com", "long-enough")
    assert tokens["token_type"] == "bearer"


async def test_malformed_phone_is_422_problem_with_errors(client: ApiClient) -> None:
    r = await client.post(
        "/v1/auth/register", json={"phone": "12345", "password": "long-enough", "display_name": "x"}
    )
    body = assert_problem(r, 422, "validation_error")
    assert body["errors"] and body["errors"][0]["loc"][-1] == "phone"
    assert body["errors"][0]["msg"]


async def test_missing_phone_and_email_is_422(client: ApiClient) -> None:
    r = await client.post(
        "/v1/auth/register", json={"password": "long-enough", "display_name": "x"}
    )
    assert_problem(r, 422, "validation_error")


async def test_duplicate_phone_is_409_user_exists(client: ApiClient) -> None:
    phone = fresh_phone()
    await client.register(phone)
    r = await client.post(
        "/v1/auth/register",
        json={"phone": f"+86{phone}", "password": "another-pw", "display_name": "dup"},
    )
    assert_problem(r, 409, "user_exists")


async def test_concurrent_duplicate_registrations_create_one_user(client: ApiClient) -> None:
    phone = fresh_phone()
    payload = {"phone": phone, "password": "long-enough", "display_name": "racer"}
    results = await asyncio.gather(
        *(client.post("/v1/auth/register", json=payload) for _ in range(20))
    )
    statuses = sorted(r.status_code for r in results)
    assert statuses.count(201) == 1 and statuses.count(409) == 19


async def test_login_and_me(client: ApiClient) -> None:
    actor = await client.register(name="王老板")
    merchant = await client.merchant(actor, "老王面馆")
    r = await client.get("/v1/me", headers=actor.headers)
    assert r.status_code == 200
    me = r.json()
    assert me["id"] == actor.user_id
    assert me["merchants"] == [{"merchant_id": merchant["id"], "name": "老王面馆", "role": "owner"}]


async def test_wrong_password_is_401_problem(client: ApiClient) -> None:
    actor = await client.register()
    r = await client.post("/v1/auth/token", data={"username": actor.phone, "password": "nope-nope"})
    assert_problem(r, 401, "invalid_credentials")
    r = await client.post("/v1/auth/token", data={"username": "13900000000", "password": "x"})
    assert_problem(r, 401, "invalid_credentials")


async def test_me_requires_a_valid_token(client: ApiClient) -> None:
    assert_problem(await client.get("/v1/me"), 401, "unauthorized")
    bad = {"Authorization": "Bearer not-a-jwt"}
    assert_problem(await client.get("/v1/me", headers=bad), 401, "invalid_token")


async def test_algorithm_is_pinned(client: ApiClient) -> None:
    actor = await client.register()
    forged = jwt.encode(
        {"sub": actor.user_id, "typ": "access", "exp": 4102444800}, key="", algorithm="none"
    )
    r = await client.get("/v1/me", headers={"Authorization": f"Bearer {forged}"})
    assert_problem(r, 401, "invalid_token")


async def test_expired_access_token_is_refused(client: ApiClient, test_settings) -> None:  # type: ignore[no-untyped-def]
    actor = await client.register()
    expired = jwt.encode(
        {"sub": actor.user_id, "typ": "access", "exp": 1, "iat": 0},
        test_settings.jwt_secret(),
        algorithm="HS256",
    )
    r = await client.get("/v1/me", headers={"Authorization": f"Bearer {expired}"})
    assert_problem(r, 401, "invalid_token")


async def test_refresh_rotates_and_reuse_revokes_the_family(client: ApiClient) -> None:
    actor = await client.register()
    first = actor.refresh_token
    r = await client.post("/v1/auth/refresh", json={"refresh_token": first})
    assert r.status_code == 200, r.text
    second = r.json()["refresh_token"]
    assert second != first
    assert (
        await client.get("/v1/me", headers={"Authorization": f"Bearer {r.json()['access_token']}"})
    ).status_code == 200

    # replaying the first token is refused and burns the whole family, the new one included
    assert_problem(
        await client.post("/v1/auth/refresh", json={"refresh_token": first}),
        401,
        "refresh_token_reused",
    )
    assert_problem(
        await client.post("/v1/auth/refresh", json={"refresh_token": second}),
        401,
        "refresh_token_reused",
    )


async def test_concurrent_refresh_of_one_token_succeeds_once(client: ApiClient) -> None:
    actor = await client.register()
    results = await asyncio.gather(
        *(
            client.post("/v1/auth/refresh", json={"refresh_token": actor.refresh_token})
            for _ in range(10)
        )
    )
    assert sum(r.status_code == 200 for r in results) == 1
    assert all(r.status_code in (200, 401) for r in results)


async def test_garbage_refresh_token_is_invalid(client: ApiClient) -> None:
    for raw in ("garbage", "0" * 32 + ".abc", "x.y.z"):
        assert_problem(
            await client.post("/v1/auth/refresh", json={"refresh_token": raw}),
            401,
            "refresh_token_invalid",
        )


async def test_logout_revokes_refresh_token(client: ApiClient) -> None:
    actor = await client.register()
    r = await client.post("/v1/auth/logout", json={"refresh_token": actor.refresh_token})
    assert r.status_code == 204
    r = await client.post("/v1/auth/refresh", json={"refresh_token": actor.refresh_token})
    assert r.status_code == 401


async def test_login_rate_limit_per_account(client: ApiClient, test_settings) -> None:  # type: ignore[no-untyped-def]
    actor = await client.register(password="right-password")
    for _ in range(test_settings.login_max_failures_per_account):
        r = await client.post(
            "/v1/auth/token", data={"username": actor.phone, "password": "wrong-password"}
        )
        assert r.status_code == 401
    r = await client.post(
        "/v1/auth/token", data={"username": actor.phone, "password": "right-password"}
    )
    body = assert_problem(r, 429, "rate_limited")
    assert int(r.headers["Retry-After"]) > 0
    assert body["retry_after"] > 0


async def test_login_rate_limit_per_ip(client: ApiClient, test_settings) -> None:  # type: ignore[no-untyped-def]
    statuses = []
    for i in range(test_settings.login_max_attempts_per_ip + 1):
        r = await client.post(
            "/v1/auth/token", data={"username": f"user{i}@example.com", "password": "x"}
        )
        statuses.append(r.status_code)
    assert statuses[:-1] == [401] * test_settings.login_max_attempts_per_ip
    assert statuses[-1] == 429


async def test_messages_follow_accept_language(client: ApiClient) -> None:
    r = await client.get("/v1/me", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert r.json()["title"] == "Authentication required"
    r = await client.get("/v1/me", headers={"Accept-Language": "zh-CN"})
    assert r.json()["title"] == "需要登录"
    r = await client.get("/v1/me")
    assert r.json()["title"] == "需要登录"


async def test_overlong_username_is_refused_before_it_becomes_a_key(
    client: ApiClient, redis
) -> None:  # type: ignore[no-untyped-def]
    """Issue 17, finding 9: a 1 MB username used to become a 1 MB Redis key."""
    r = await client.post(
        "/v1/auth/token", data={"username": "1" * 100_000, "password": "whatever-pass"}
    )
    assert_problem(r, 422, "validation_error")
    assert [k async for k in redis.scan_iter("login:*")] == []


async def test_every_account_creation_runs_the_user_created_hooks(client: ApiClient) -> None:
    from sqlalchemy.ext.asyncio import AsyncSession

    from accounts import service
    from accounts.models import User
    from accounts.service import users as users_rules

    seen: list[tuple[str | None, bool]] = []

    async def hook(session: AsyncSession, user: User) -> None:
        # runs inside the creating transaction: the row is visible to the same session
        seen.append((user.phone, await session.get(User, user.id) is not None))

    service.register_user_created_hook(hook)
    service.register_user_created_hook(hook)  # registering twice is harmless
    try:
        actor = await client.register()
    finally:
        users_rules._user_created_hooks.remove(hook)
    assert seen == [(actor.phone, True)]


async def test_access_tokens_stop_working_when_their_sign_in_is_revoked(
    client: ApiClient,
) -> None:
    """Issue 17, finding 9: access tokens kept working after logout or a family revocation
    until they expired (15 minutes)."""
    actor = await client.register(password="right-password")
    other = await client.login(actor.phone, "right-password")  # a second device
    other_headers = {"Authorization": f"Bearer {other['access_token']}"}
    assert (await client.get("/v1/me", headers=actor.headers)).status_code == 200

    # logout ends that sign-in's access token at once; the other device stays signed in
    r = await client.post("/v1/auth/logout", json={"refresh_token": actor.refresh_token})
    assert r.status_code == 204
    assert_problem(await client.get("/v1/me", headers=actor.headers), 401, "invalid_token")
    assert (await client.get("/v1/me", headers=other_headers)).status_code == 200

    # a replayed refresh token revokes its family: the access tokens of that family too
    rotated = (
        await client.post("/v1/auth/refresh", json={"refresh_token": other["refresh_token"]})
    ).json()
    rotated_headers = {"Authorization": f"Bearer {rotated['access_token']}"}
    assert (await client.get("/v1/me", headers=rotated_headers)).status_code == 200
    r = await client.post("/v1/auth/refresh", json={"refresh_token": other["refresh_token"]})
    assert_problem(r, 401, "refresh_token_reused")
    for headers in (other_headers, rotated_headers):
        assert_problem(await client.get("/v1/me", headers=headers), 401, "invalid_token")

    # signing in again works
    fresh = await client.login(actor.phone, "right-password")
    r = await client.get("/v1/me", headers={"Authorization": f"Bearer {fresh['access_token']}"})
    assert r.status_code == 200


async def test_registration_is_rate_limited_and_user_exists_costs_a_hash(
    client: ApiClient,
    test_settings,
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    """Issue 17, finding 9: sign-ups had no rate limit, and `user_exists` answered 10x faster
    than a sign-up (no password hashing), telling at a glance which phones have accounts."""
    from accounts.service import users as service

    taken = await client.register()
    hashed: list[str] = []
    original = service.hash_secret

    async def counting(settings, secret):  # type: ignore[no-untyped-def]
        hashed.append(secret)
        return await original(settings, secret)

    monkeypatch.setattr(service, "hash_secret", counting)
    body = {"phone": taken.phone, "password": "another-pass", "display_name": "x"}
    assert_problem(await client.post("/v1/auth/register", json=body), 409, "user_exists")
    assert hashed == ["another-pass"]  # the same work as a sign-up before answering

    limit = test_settings.register_max_per_ip_per_hour
    statuses = []
    for _ in range(limit):
        body = {"phone": fresh_phone(), "password": "s3cret-pass", "display_name": "x"}
        statuses.append((await client.post("/v1/auth/register", json=body)).status_code)
    # the two sign-ups above counted too: the budget ran out on the way
    assert statuses.count(201) == limit - 2 and statuses[-2:] == [429, 429]
    r = await client.post("/v1/auth/register", json=body)
    assert_problem(r, 429, "rate_limited")
    assert int(r.headers["Retry-After"]) > 0
