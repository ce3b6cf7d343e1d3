"""Security checks as tests: QR forgery and cross-type replay, upload limits, injection-looking
input in query parameters, the claim rate limit, and no secrets in the server's logs."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from core.settings import Settings
from core.signing import sign
from coupons import codes
from coupons.service import throttle
from memberships import render
from merchants import images
from tests.hardening.helpers import World, build_world, campaign_body, money, png_bytes
from tests.helpers import ApiClient, assert_problem, create_shop, zero_png
from tests.live import live_server


async def _fresh_coupon(client: ApiClient, w: World, name: str = "再来") -> dict[str, Any]:
    mid = w.ids["merchant_id"]
    r = await client.post(
        f"/v1/merchants/{mid}/campaigns", json=campaign_body(name), headers=w.owner.headers
    )
    cid = r.json()["id"]
    await client.post(f"/v1/campaigns/{cid}/publish", headers=w.owner.headers)
    r = await client.post(f"/v1/campaigns/{cid}/claim", headers=w.consumer.headers)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def _tamper(token: str) -> str:
    kid, body, tag = token.split(".")
    payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    altered = payload.replace(b'"', b'"', 1)[:-1] + b',"z":1}'
    return f"{kid}.{base64.urlsafe_b64encode(altered).rstrip(b'=').decode()}.{tag}"


async def test_forged_altered_and_cross_type_qr_payloads_are_refused(
    client: ApiClient, test_settings: Settings
) -> None:
    w = await build_world(client)
    keys = test_settings.signing_keys()
    coupon = await _fresh_coupon(client, w)
    genuine = codes.qr_payload(coupon["code"], keys)
    r = await client.get(f"/v1/cards/{w.ids['card_id']}/qr-token", headers=w.consumer.headers)
    card_token = r.json()["token"]
    kid = keys[0][0]
    forged = sign({"t": codes.QR_TYPE, "c": coupon["code"]}, [(kid, b"not-the-server-key")])
    shop = w.ids["shop_id"]

    def redeem(qr: str) -> dict[str, Any]:
        return {"qr": qr, "shop_id": shop, "order_amount": money(5000)}

    for qr in (forged, _tamper(genuine), card_token, w.owner.token, genuine[:-2], "x.y.z", ""):
        for route in ("/v1/counter/lookup", "/v1/counter/redeem"):
            r = await client.post(route, json=redeem(qr), headers=w.clerk.headers)
            assert r.status_code == 422, (qr, r.text)
            assert r.json()["code"] in ("qr_invalid", "validation_error"), r.text

    # a coupon's QR (or a JWT, or a forged member token) is not a member card
    expired = sign(
        {
            "k": "card",
            "c": w.ids["card_id"].replace("-", ""),
            "j": "00",
            "x": int((datetime.now(UTC) - timedelta(minutes=1)).timestamp()),
        },
        keys,
    )
    for token in (genuine, w.consumer.token, _tamper(card_token), expired):
        body = {"card": token, "shop_id": shop, "kind": "purchase", "amount": money(100)}
        r = await client.post("/v1/counter/transactions", json=body, headers=w.clerk.headers)
        assert 400 <= r.status_code < 500 and r.status_code != 201, r.text
        assert r.json()["code"] in ("qr_invalid", "qr_expired", "card_not_found"), r.text

    # the genuine ones work once; their replay is refused
    r = await client.post("/v1/counter/redeem", json=redeem(genuine), headers=w.clerk.headers)
    assert r.status_code == 200, r.text
    r = await client.post("/v1/counter/redeem", json=redeem(genuine), headers=w.clerk.headers)
    assert_problem(r, 409, "coupon_already_redeemed")
    body = {"card": card_token, "shop_id": shop, "kind": "purchase", "amount": money(100)}
    r = await client.post("/v1/counter/transactions", json=body, headers=w.clerk.headers)
    assert r.status_code == 201, r.text
    r = await client.post("/v1/counter/transactions", json=body, headers=w.clerk.headers)
    assert_problem(r, 409, "qr_used")


async def test_upload_limits_refuse_oversized_files_and_bombs(client: ApiClient) -> None:
    owner = await client.register()
    merchant = await client.merchant(owner)
    shop = await create_shop(client, owner, merchant["id"])
    url = f"/v1/shops/{shop['id']}/photos"
    oversized = png_bytes() + b"\x00" * (10 * 1024 * 1024)
    english = {**owner.headers, "Accept-Language": "en"}
    r = await client.post(url, headers=english, files={"file": ("x.png", oversized, "image/png")})
    assert "larger than 10 MB" in assert_problem(r, 422, "invalid_image")["detail"]
    for data in (b"GIF89a" + b"\x00" * 64, b"<svg/>"):
        r = await client.post(
            url, headers=owner.headers, files={"file": ("x.png", data, "image/png")}
        )
        assert "limit" not in assert_problem(r, 422, "invalid_image")
    # valid, a few KB each, 49 MP: under Pillow's own bomb limit (~89 MP) and, in 8-bit grey,
    # under the 64 MB decoding budget: only our 40 MP caps refuse them
    bombs = [zero_png(7000, 7000), zero_png(70_000, 700)]
    assert all(len(b) < 256 * 1024 for b in bombs)
    for data in bombs:
        r = await client.post(
            url, headers=owner.headers, files={"file": ("x.png", data, "image/png")}
        )
        body = assert_problem(r, 422, "invalid_image")
        assert body["limit"] == {"max_pixels": images.MAX_PIXELS}, body
    assert (await client.get(url)).json()["items"] == []

    r = await client.post(
        f"/v1/merchants/{merchant['id']}/programs",
        headers=owner.headers,
        json={
            "name": "卡",
            "tiers": [
                {
                    "code": "r",
                    "name": "r",
                    "rank": 0,
                    "discount_percent": 0,
                    "earn": {"points_per_currency_unit": 1},
                }
            ],
            "redeem": {"points_per_currency_unit": 100},
        },
    )
    program = r.json()["id"]
    for data in bombs:
        r = await client.put(
            f"/v1/programs/{program}/design",
            headers=owner.headers,
            json={"logo": base64.b64encode(data).decode()},
        )
        body = assert_problem(r, 422, "image_invalid")
        assert body["limit"] == {"max_pixels": render.MAX_SOURCE_PIXELS}, body


INJECTIONS = [
    "' OR 1=1 --",
    "'; DROP TABLE shops; --",
    '" OR ""="',
    "1) UNION SELECT phone, password_hash FROM users --",
    "%' AND pg_sleep(5) --",
    "\\x00\u0000",
    base64.urlsafe_b64encode(b'{"id": "\' OR 1=1 --", "d": "x"}').decode(),
]


async def test_injection_looking_query_parameters_are_inert(client: ApiClient) -> None:
    a = await build_world(client, tag="A")
    b = await build_world(client, tag="B")
    mid = b.ids["merchant_id"]
    near = {"lat": 31.2304, "lng": 121.4737}
    for evil in INJECTIONS:
        calls: list[tuple[str, dict[str, Any], dict[str, str]]] = [
            ("/v1/shops/nearby", {**near, "q": evil}, {}),
            ("/v1/shops/nearby", {**near, "sort": evil}, {}),
            ("/v1/shops/nearby", {**near, "category": evil}, {}),
            ("/v1/shops/nearby", {**near, "cursor": evil}, {}),
            (f"/v1/merchants/{mid}/customers", {"q": evil}, b.owner.headers),
            (f"/v1/merchants/{mid}/customers", {"sort": evil}, b.owner.headers),
            (f"/v1/merchants/{mid}/customers", {"cursor": evil}, b.owner.headers),
            (f"/v1/merchants/{mid}/customers", {"tier": evil, "segment_id": evil}, b.owner.headers),
            (f"/v1/shops/{b.ids['shop_id']}/reviews", {"cursor": evil}, {}),
            ("/v1/me/coupons", {"status": evil, "cursor": evil}, b.consumer.headers),
            (f"/v1/cards/{b.ids['card_id']}/ledger", {"cursor": evil}, b.consumer.headers),
        ]
        for path, params, headers in calls:
            r = await client.get(path, params=params, headers=headers)
            assert r.status_code < 500, (path, params, r.text)
            if r.status_code >= 400:
                assert r.headers["content-type"].startswith("application/problem+json")
            for marker in a.private_markers():
                assert marker not in r.text, (path, params)
            if r.status_code == 200 and path.endswith("/customers"):
                assert a.ids["customer_id"] not in r.text
    # still all there
    r = await client.get("/v1/shops/nearby", params=near)
    assert {s["id"] for s in r.json()["items"]} == {a.ids["shop_id"], b.ids["shop_id"]}


async def test_claims_are_rate_limited_per_user(
    client: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(throttle, "CLAIMS_PER_WINDOW", 2)
    w = await build_world(client)  # one claim already
    await _fresh_coupon(client, w, "二")
    mid = w.ids["merchant_id"]
    r = await client.post(
        f"/v1/merchants/{mid}/campaigns", json=campaign_body("三"), headers=w.owner.headers
    )
    cid = r.json()["id"]
    await client.post(f"/v1/campaigns/{cid}/publish", headers=w.owner.headers)
    r = await client.post(f"/v1/campaigns/{cid}/claim", headers=w.consumer.headers)
    problem = assert_problem(r, 429, "rate_limited")
    assert int(r.headers["retry-after"]) > 0 and problem
    other = await client.register()
    assert (
        await client.post(f"/v1/campaigns/{cid}/claim", headers=other.headers)
    ).status_code == 201


def test_secrets_never_reach_the_logs(test_settings: Settings) -> None:
    """Drive sign-up, sign-in (right and wrong), refresh, claim, redeem, PIN and card spending
    against a real server logging at DEBUG, then look for every secret in what it wrote."""
    log_path = test_settings.state_dir / "secrets-server.log"
    password = "Pa55-word-for-log-test"
    pin = "582931"
    secrets_seen: list[str] = [password, pin]
    assert test_settings.secret_key
    secrets_seen.append(test_settings.secret_key.get_secret_value())
    with (
        open(log_path, "wb") as log,
        live_server(test_settings, log=log, env={"CORNER_LOG_LEVEL": "DEBUG"}) as base,
    ):
        with httpx.Client(base_url=base, timeout=30) as http:
            phone = "13700001111"
            r = http.post(
                "/v1/auth/register",
                json={"phone": phone, "password": password, "display_name": "日志"},
            )
            assert r.status_code == 201, r.text
            assert (
                http.post(
                    "/v1/auth/token", data={"username": phone, "password": password + "x"}
                ).status_code
                == 401
            )
            tokens = http.post("/v1/auth/token", data={"username": phone, "password": password})
            pair = tokens.json()
            secrets_seen += [pair["access_token"], pair["refresh_token"]]
            r = http.post("/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
            secrets_seen += [r.json()["access_token"], r.json()["refresh_token"]]
            # the replayed refresh token is refused (and revokes the family)
            assert (
                http.post(
                    "/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}
                ).status_code
                == 401
            )
            # the replay ended the whole sign-in (its access tokens too): sign in afresh
            again = http.post("/v1/auth/token", data={"username": phone, "password": password})
            secrets_seen += [again.json()["access_token"], again.json()["refresh_token"]]
            h = {"Authorization": f"Bearer {again.json()['access_token']}"}
            m = http.post("/v1/merchants", json={"name": "日志店"}, headers=h).json()
            shop = http.post(
                f"/v1/merchants/{m['id']}/shops",
                headers=h,
                json={
                    "name": "店",
                    "category": "noodles",
                    "location": {"lat": 31.2, "lng": 121.4},
                    "address": "x",
                    "opening_hours": [],
                },
            ).json()
            c = http.post(
                f"/v1/merchants/{m['id']}/campaigns", json=campaign_body("日志"), headers=h
            ).json()
            http.post(f"/v1/campaigns/{c['id']}/publish", headers=h)
            coupon = http.post(f"/v1/campaigns/{c['id']}/claim", headers=h).json()
            qr = codes.qr_payload(coupon["code"], test_settings.signing_keys())
            secrets_seen.append(qr)
            r = http.post(
                "/v1/counter/redeem",
                headers=h,
                json={"qr": qr, "shop_id": shop["id"], "order_amount": money(5000)},
            )
            assert r.status_code == 200, r.text
            p = http.post(
                f"/v1/merchants/{m['id']}/programs",
                headers=h,
                json={
                    "name": "卡",
                    "tiers": [
                        {
                            "code": "r",
                            "name": "r",
                            "rank": 0,
                            "discount_percent": 0,
                            "earn": {"points_per_currency_unit": 1},
                        }
                    ],
                    "redeem": {"points_per_currency_unit": 1},
                },
            ).json()
            card = http.post(f"/v1/programs/{p['id']}/join", headers=h).json()
            http.put(f"/v1/cards/{card['id']}/pin", json={"pin": pin}, headers=h)
            token = http.get(f"/v1/cards/{card['id']}/qr-token", headers=h).json()["token"]
            secrets_seen.append(token)
            tx = {"card": token, "shop_id": shop["id"], "kind": "purchase", "amount": money(900)}
            assert http.post("/v1/counter/transactions", json=tx, headers=h).status_code == 201
            spend = {
                "card": card["card_number"],
                "shop_id": shop["id"],
                "kind": "spend_points",
                "points": 1,
                "pin": "000999",
            }
            assert http.post("/v1/counter/transactions", json=spend, headers=h).status_code == 403
            spend["pin"] = pin
            assert http.post("/v1/counter/transactions", json=spend, headers=h).status_code == 201
    written = log_path.read_text(errors="replace")
    # the search below means something only if the server wrote what it did: one DEBUG line
    # per request, the sign-in and the PIN spending among them
    requests = [line for line in written.splitlines() if '"event": "request"' in line]
    assert len(requests) >= 10, written[-2000:]
    assert any('"/v1/auth/token"' in line for line in requests), written[-2000:]
    assert any('"/v1/counter/transactions"' in line for line in requests), written[-2000:]
    for secret in secrets_seen:
        assert secret not in written, f"a secret reached the log: {secret[:12]}…"
        # nor its JWT payload part on its own
        if secret.count(".") == 2:
            assert secret.split(".")[1] not in written
