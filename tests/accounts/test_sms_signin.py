"""Sign-in and password reset by SMS code (SPEC §11): codes read from the log sink file."""

from __future__ import annotations

import asyncio
import json

import pytest
from redis.asyncio import Redis

from core.clientip import parse_trusted, real_client_ip
from core.settings import Settings
from tests.helpers import ApiClient, assert_problem, fresh_phone


def sent_to(settings: Settings, phone: str) -> list[dict[str, object]]:
    path = settings.sms_log_path
    if not path.exists():
        return []
    e164 = phone if phone.startswith("+") else f"+86{phone}"
    return [r for r in map(json.loads, path.read_text().splitlines()) if r["to"] == e164]


def last_code(settings: Settings, phone: str, kind: str = "login_code") -> str:
    messages = [m for m in sent_to(settings, phone) if m["kind"] == kind]
    assert messages, f"no {kind} sent to {phone}"
    params = messages[-1]["params"]
    assert isinstance(params, dict)
    return str(params["code"])


async def ask_code(client: ApiClient, phone: str, purpose: str = "login", **kw: object) -> None:
    r = await client.post("/v1/auth/sms-code", json={"phone": phone, "purpose": purpose}, **kw)  # type: ignore[arg-type]
    assert r.status_code == 202, r.text
    assert r.content == b""


async def sign_in(client: ApiClient, phone: str, code: str) -> dict[str, object]:
    r = await client.post(
        "/v1/auth/token", data={"grant_type": "sms_code", "username": phone, "code": code}
    )
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def test_first_sign_in_by_code_creates_the_account_and_later_ones_find_it(
    client: ApiClient, test_settings: Settings, redis: Redis
) -> None:
    phone = fresh_phone()
    await ask_code(client, phone)
    code = last_code(test_settings, phone)
    assert len(code) == 6 and code.isdigit()
    message = sent_to(test_settings, phone)[-1]
    assert code in str(message["text"]) and message["params"] == {"code": code, "minutes": "5"}
    # only a hash is kept, and it lives 5 minutes
    stored = await redis.hgetall(f"sms:code:login:+86{phone}")
    assert stored and code not in repr(stored)
    assert 290 <= await redis.ttl(f"sms:code:login:+86{phone}") <= 300

    tokens = await sign_in(client, phone, code)
    me = await client.get("/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 200 and me.json()["phone"] == f"+86{phone}"

    # the code worked once
    r = await client.post(
        "/v1/auth/token", data={"grant_type": "sms_code", "username": phone, "code": code}
    )
    assert_problem(r, 400, "sms_code_invalid")

    await redis.delete(f"sms:gap:+86{phone}")  # a minute later
    await ask_code(client, phone)
    again = await sign_in(client, phone, last_code(test_settings, phone))
    me2 = await client.get("/v1/me", headers={"Authorization": f"Bearer {again['access_token']}"})
    assert me2.json()["id"] == me.json()["id"]

    # such an account has no password that could be guessed
    r = await client.post("/v1/auth/token", data={"username": phone, "password": "!no-password"})
    assert_problem(r, 401, "invalid_credentials")


async def test_an_existing_password_account_signs_in_by_code(
    client: ApiClient, test_settings: Settings
) -> None:
    actor = await client.register()
    await ask_code(client, actor.phone)
    tokens = await sign_in(client, actor.phone, last_code(test_settings, actor.phone))
    me = await client.get("/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.json()["id"] == actor.user_id


@pytest.mark.parametrize(
    "code", ["", "12345", "1234567", "abcdef", "１２３４５６", "12 456", "x" * 16]
)
async def test_malformed_codes_are_the_same_400(client: ApiClient, code: str) -> None:
    phone = fresh_phone()
    await ask_code(client, phone)
    r = await client.post(
        "/v1/auth/token", data={"grant_type": "sms_code", "username": phone, "code": code}
    )
    assert r.status_code in (400, 422), r.text
    if r.status_code == 400:
        assert_problem(r, 400, "sms_code_invalid")


async def test_a_code_is_void_after_five_wrong_tries_even_when_they_come_at_once(
    client: ApiClient, test_settings: Settings
) -> None:
    phone = fresh_phone()
    await ask_code(client, phone)
    code = last_code(test_settings, phone)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    answers = await asyncio.gather(
        *(
            client.post(
                "/v1/auth/token", data={"grant_type": "sms_code", "username": phone, "code": wrong}
            )
            for _ in range(20)
        )
    )
    assert {r.status_code for r in answers} == {400}
    assert {r.json()["code"] for r in answers} == {"sms_code_invalid"}
    r = await client.post(
        "/v1/auth/token", data={"grant_type": "sms_code", "username": phone, "code": code}
    )
    assert_problem(r, 400, "sms_code_invalid")  # the right code came too late


async def test_four_wrong_tries_leave_the_code_usable(
    client: ApiClient, test_settings: Settings
) -> None:
    phone = fresh_phone()
    await ask_code(client, phone)
    code = last_code(test_settings, phone)
    for _ in range(4):
        r = await client.post(
            "/v1/auth/token",
            data={
                "grant_type": "sms_code",
                "username": phone,
                "code": "000000" if code != "000000" else "111111",
            },
        )
        assert_problem(r, 400, "sms_code_invalid")
    await sign_in(client, phone, code)


async def test_wrong_phone_or_never_sent_is_the_same_invalid_code(client: ApiClient) -> None:
    for username in (fresh_phone(), "not-a-phone", "a@b.example"):
        r = await client.post(
            "/v1/auth/token",
            data={"grant_type": "sms_code", "username": username, "code": "123456"},
        )
        body = assert_problem(r, 400, "sms_code_invalid")
        assert "phone" not in body["title"].lower() and "account" not in str(body).lower()


async def test_one_code_per_minute_under_concurrency_then_retry_after(
    client: ApiClient, test_settings: Settings
) -> None:
    phone = fresh_phone()
    answers = await asyncio.gather(
        *(
            client.post("/v1/auth/sms-code", json={"phone": phone, "purpose": "login"})
            for _ in range(8)
        )
    )
    assert sorted(r.status_code for r in answers) == [202] + [429] * 7
    limited = next(r for r in answers if r.status_code == 429)
    assert_problem(limited, 429, "rate_limited")
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert len(sent_to(test_settings, phone)) == 1


async def test_ten_codes_a_day_per_phone(
    client: ApiClient, redis: Redis, test_settings: Settings
) -> None:
    phone = fresh_phone()
    for _ in range(10):
        await ask_code(client, phone)
        await redis.delete(f"sms:gap:+86{phone}")  # the minute between requests passes
    r = await client.post("/v1/auth/sms-code", json={"phone": phone, "purpose": "login"})
    assert_problem(r, 429, "rate_limited")
    assert int(r.headers["Retry-After"]) > 3600
    assert len(sent_to(test_settings, phone)) == 10


async def test_the_answer_does_not_tell_whether_the_phone_has_an_account(
    client: ApiClient, test_settings: Settings
) -> None:
    actor = await client.register()
    stranger = fresh_phone()
    known = await client.post("/v1/auth/sms-code", json={"phone": actor.phone, "purpose": "reset"})
    unknown = await client.post("/v1/auth/sms-code", json={"phone": stranger, "purpose": "reset"})
    assert (
        (known.status_code, known.content) == (unknown.status_code, unknown.content) == (202, b"")
    )
    assert set(known.headers) - {"x-request-id", "date"} == set(unknown.headers) - {
        "x-request-id",
        "date",
    }
    assert [m["kind"] for m in sent_to(test_settings, actor.phone)] == ["reset_code"]
    assert sent_to(test_settings, stranger) == []  # nothing to reset: nothing sent
    r = await client.post(
        "/v1/auth/password-reset",
        json={"phone": stranger, "code": "123456", "new_password": "brand-new-pass"},
    )
    assert_problem(r, 400, "sms_code_invalid")


async def test_password_reset_revokes_every_refresh_token(
    client: ApiClient, test_settings: Settings
) -> None:
    actor = await client.register(password="old-password-1")
    second = await client.login(actor.phone, "old-password-1")
    await ask_code(client, actor.phone, "reset")
    code = last_code(test_settings, actor.phone, "reset_code")
    # a login code is not a reset code
    r = await client.post(
        "/v1/auth/token", data={"grant_type": "sms_code", "username": actor.phone, "code": code}
    )
    assert_problem(r, 400, "sms_code_invalid")
    r = await client.post(
        "/v1/auth/password-reset",
        json={"phone": actor.phone, "code": code, "new_password": "new-password-2"},
    )
    assert r.status_code == 204, r.text
    for refresh in (actor.refresh_token, second["refresh_token"]):
        r = await client.post("/v1/auth/refresh", json={"refresh_token": refresh})
        assert r.status_code == 401, r.text
    # and the access tokens already out (issue 17, finding 9)
    for access in (actor.token, second["access_token"]):
        r = await client.get("/v1/me", headers={"Authorization": f"Bearer {access}"})
        assert_problem(r, 401, "invalid_token")
    r = await client.post(
        "/v1/auth/token", data={"username": actor.phone, "password": "old-password-1"}
    )
    assert_problem(r, 401, "invalid_credentials")
    await client.login(actor.phone, "new-password-2")
    r = await client.post(
        "/v1/auth/password-reset",
        json={"phone": actor.phone, "code": code, "new_password": "third-password"},
    )
    assert_problem(r, 400, "sms_code_invalid")  # used once


@pytest.mark.parametrize(
    "body",
    [
        {"phone": "12345", "purpose": "login"},
        {"phone": "", "purpose": "login"},
        {"phone": "1" * 5000, "purpose": "login"},
        {"phone": "13800000000", "purpose": "steal"},
        {"phone": "电话", "purpose": "login"},
        {"purpose": "login"},
    ],
)
async def test_bad_sms_code_requests_are_422(client: ApiClient, body: dict[str, object]) -> None:
    r = await client.post("/v1/auth/sms-code", json=body)
    assert_problem(r, 422, "validation_error")


async def test_token_form_requires_the_grant_s_secret(client: ApiClient) -> None:
    r = await client.post(
        "/v1/auth/token", data={"grant_type": "sms_code", "username": "13800000000"}
    )
    assert_problem(r, 422, "validation_error")
    r = await client.post("/v1/auth/token", data={"username": "13800000000"})
    assert_problem(r, 422, "validation_error")
    r = await client.post(
        "/v1/auth/token",
        data={"grant_type": "client_credentials", "username": "x", "password": "y"},
    )
    assert_problem(r, 422, "validation_error")


async def test_per_address_budget_counts_the_real_client_behind_trusted_proxies(
    client: ApiClient, test_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(test_settings, "sms_code_max_per_ip_per_hour", 3)
    # without trusted proxies a forged X-Forwarded-For changes nothing: one budget
    for i in range(3):
        await ask_code(client, fresh_phone(), headers={"X-Forwarded-For": f"198.51.100.{i}"})
    r = await client.post(
        "/v1/auth/sms-code",
        json={"phone": fresh_phone()},
        headers={"X-Forwarded-For": "198.51.100.99"},
    )
    assert_problem(r, 429, "rate_limited")
    assert int(r.headers["Retry-After"]) > 0

    # behind a trusted proxy (the test client's address) each real client has its own
    monkeypatch.setattr(test_settings, "trusted_proxies", "127.0.0.1, 10.0.0.0/8")
    for i in range(3):
        await ask_code(
            client, fresh_phone(), headers={"X-Forwarded-For": f"203.0.113.7, 10.1.2.{i}"}
        )
    r = await client.post(
        "/v1/auth/sms-code",
        json={"phone": fresh_phone()},
        headers={"X-Forwarded-For": "203.0.113.7"},
    )
    assert_problem(r, 429, "rate_limited")
    await ask_code(client, fresh_phone(), headers={"X-Forwarded-For": "203.0.113.8"})


def test_real_client_ip_reads_forwarded_for_from_the_right() -> None:
    trusted = parse_trusted("10.0.0.0/8,::1")
    assert real_client_ip("10.0.0.5", ["1.2.3.4"], trusted) == "1.2.3.4"
    # a client-written entry on the left is ignored: the proxy appended the real address
    assert real_client_ip("10.0.0.5", ["6.6.6.6, 1.2.3.4"], trusted) == "1.2.3.4"
    assert real_client_ip("10.0.0.5", ["6.6.6.6, 1.2.3.4, 10.9.9.9"], trusted) == "1.2.3.4"
    assert real_client_ip("10.0.0.5", ["6.6.6.6", "1.2.3.4"], trusted) == "1.2.3.4"
    # an untrusted peer's header is never read
    assert real_client_ip("5.5.5.5", ["1.2.3.4"], trusted) == "5.5.5.5"
    assert real_client_ip("10.0.0.5", [], trusted) == "10.0.0.5"
    assert real_client_ip("10.0.0.5", ["garbage"], trusted) == "10.0.0.5"
    assert real_client_ip("::1", ["2001:db8::1"], trusted) == "2001:db8::1"
    assert real_client_ip("10.0.0.5", ["1.2.3.4"], ()) == "10.0.0.5"
    with pytest.raises(ValueError):
        parse_trusted("10.0.0.0/8,not-an-ip")
    with pytest.raises(ValueError):
        Settings(trusted_proxies="300.1.1.1")
