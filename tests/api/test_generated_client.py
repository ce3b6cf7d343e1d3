"""A typed client generated from /openapi.json with openapi-python-client drives the
consumer's journey against a real server (uvicorn on a loopback port), through that client
only. Generation must print no warning: a dropped model or response fails the test.

Covered (SPEC §11, issue 18 point 5): SMS sign-in (code read from the log sink) → nearby
(with best_offer) → shop page → claim → my coupons → coupon QR (binary) → a clerk redeems →
verified review → join the card → book a slot from the page's next_slots → my bookings →
order + pay (the fake provider: its signed callback is the provider's side, posted by hand)
→ the clerk consumes it → a second order refunded by its buyer (refund_policy anytime) →
my offers (a flash offer to the merchant's customers, delivered by a real `corner worker`)
→ read it → export → delete. The clerk and the owner use the generated client too.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis import Redis

from core.payments import SIGNATURE_HEADER, FakePaymentProvider
from core.settings import Settings
from tests.hardening.helpers import png_bytes
from tests.helpers import fresh_phone
from tests.live import live_server, live_worker

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = httpx.Timeout(60.0)  # the machine running the tests may be busy
WARNING_MARKS = ("WARNING", "Unable to", "Cannot parse", "Could not", "Attempted to generate")
CONFIG = """content_type_overrides:
  image/png: application/octet-stream
  application/pdf: application/octet-stream
  text/csv: application/octet-stream
"""


def generate(spec: dict[str, Any], into: Path) -> None:
    into.mkdir(parents=True, exist_ok=True)
    (into / "openapi.json").write_text(json.dumps(spec))
    (into / "config.yaml").write_text(CONFIG)
    bin_dir = Path(sys.executable).parent
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    done = subprocess.run(
        [str(bin_dir / "openapi-python-client"), "generate", "--path", "openapi.json",
         "--output-path", "corner_client", "--meta", "none", "--config", "config.yaml"],
        cwd=into, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    warnings = [line for line in output.splitlines() if line.startswith(WARNING_MARKS)]
    assert not warnings, output


def test_generated_client_drives_the_journey(test_settings: Settings, tmp_path: Path) -> None:
    # flash offers reach the inbox through the worker's push jobs
    worker = live_worker(test_settings, "push_dispatch_outbox", "push_send")
    with live_server(test_settings) as base, worker:
        spec = httpx.get(f"{base}/openapi.json", timeout=TIMEOUT).json()
        generate(spec, tmp_path)
        sys.path.insert(0, str(tmp_path))
        try:
            _journey(base, test_settings)
        finally:
            sys.path.remove(str(tmp_path))
            for name in [m for m in sys.modules if m.startswith("corner_client")]:
                del sys.modules[name]


def _op(tag: str, name: str) -> Any:
    return importlib.import_module(f"corner_client.api.{tag}.{name}")


def _model(name: str) -> Any:
    return getattr(importlib.import_module("corner_client.models"), name)


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.content
    return response.parsed


def _code_sent(settings: Settings, phone: str, kind: str) -> str:
    """The code the log sink received (sent after the 202, so it may take a moment)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        path = settings.sms_log_path
        lines = path.read_text().splitlines() if path.exists() else []
        for line in reversed(lines):
            record = json.loads(line)
            if record["to"] == phone and record["kind"] == kind:
                return str(record["params"]["code"])
        time.sleep(0.05)
    raise AssertionError(f"no {kind} for {phone}")


def _eventually(read: Callable[[], Any], done: Callable[[Any], bool], seconds: float = 30) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        value = read()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def _provider_pays(base: str, settings: Settings, reference: str) -> None:
    """The fake provider's signed success callback (the provider's side, not the app's)."""
    body = json.dumps({"reference": reference, "status": "succeeded"}).encode()
    signature = FakePaymentProvider(settings.signing_keys()).sign_callback(body)
    r = httpx.post(
        f"{base}/v1/payments/fake/callback",
        content=body,
        headers={SIGNATURE_HEADER: signature, "Content-Type": "application/json"},
        timeout=TIMEOUT,
    )
    assert r.status_code == 200, r.text


def _sign_in(base: str, settings: Settings) -> tuple[Any, str]:
    client_mod = importlib.import_module("corner_client.client")
    anonymous = client_mod.Client(base_url=base, timeout=TIMEOUT)
    phone = fresh_phone()
    body = _model("SmsCodeRequest").from_dict({"phone": phone, "purpose": "login"})
    _ok(_op("accounts", "auth_sms_code").sync_detailed(client=anonymous, body=body), 202)
    code = _code_sent(settings, f"+86{phone}", "login_code")
    form = _model("TokenRequest").from_dict(
        {"grant_type": "sms_code", "username": phone, "code": code}
    )
    tokens = _ok(_op("accounts", "auth_token").sync_detailed(client=anonymous, body=form))
    authenticated = client_mod.AuthenticatedClient(
        base_url=base, token=tokens.access_token, timeout=TIMEOUT
    )
    return authenticated, phone


def _journey(base: str, settings: Settings) -> None:
    owner, _ = _sign_in(base, settings)
    clerk, clerk_phone = _sign_in(base, settings)
    me, _ = _sign_in(base, settings)
    anonymous = importlib.import_module("corner_client.client").Client(
        base_url=base, timeout=TIMEOUT
    )

    # the merchant's side, through the same client
    merchant = _ok(
        _op("accounts", "merchants_create").sync_detailed(
            client=owner, body=_model("MerchantCreate").from_dict({"name": "生成客户端面馆"})
        ),
        201,
    )
    shop = _ok(
        _op("shops", "merchants_create_shop").sync_detailed(
            merchant.id,
            client=owner,
            body=_model("ShopCreate").from_dict(
                {
                    "name": "静安店",
                    "category": "noodles",
                    "location": {"lat": 31.2304, "lng": 121.4737},
                    "address": "上海市静安区南京西路1号",
                    "opening_hours": [
                        {"day": d, "open": "00:00", "close": "23:59"} for d in range(7)
                    ],
                    "description": "老店",
                    "features": ["wifi"],
                }
            ),
        ),
        201,
    )
    _ok(
        _op("shops", "shops_create_offering").sync_detailed(
            shop.id,
            client=owner,
            body=_model("OfferingCreate").from_dict(
                {
                    "name": "洗剪吹",
                    "price": {"amount": 8800, "currency": "CNY"},
                    "bookable": True,
                    "refund_policy": "anytime",
                    "valid_days": 30,
                }  # fmt: skip
            ),
        ),
        201,
    )
    # a storefront photo: the generated client sends the file as a file (format: binary)
    types = importlib.import_module("corner_client.types")
    photo = _ok(
        _op("shops", "shops_upload_photo").sync_detailed(
            shop.id,
            client=owner,
            body=_model("PhotoUpload")(
                file=types.File(payload=io.BytesIO(png_bytes()), file_name="front.png",
                                mime_type="image/png"),
            ),
        ),
        201,
    )  # fmt: skip
    now = datetime.now(UTC)
    campaign = _ok(
        _op("coupons", "merchants_create_campaign").sync_detailed(
            merchant.id,
            client=owner,
            body=_model("CampaignCreate").from_dict(
                {
                    "name": "立减10",
                    "discount": {
                        "kind": "amount_off",
                        "value": {"amount": 1000, "currency": "CNY"},
                    },
                    "valid_from": (now - timedelta(hours=1)).isoformat(),
                    "valid_until": (now + timedelta(days=7)).isoformat(),
                }
            ),
        ),
        201,
    )
    _ok(_op("coupons", "campaigns_publish").sync_detailed(campaign.id, client=owner))
    program = _ok(
        _op("memberships", "merchants_create_program").sync_detailed(
            merchant.id,
            client=owner,
            body=_model("ProgramCreate").from_dict(
                {
                    "name": "会员卡",
                    "tiers": [
                        {
                            "code": "regular",
                            "name": "普通卡",
                            "rank": 0,
                            "discount_percent": 0,
                            "earn": {"points_per_currency_unit": 1},
                        }
                    ],
                    "redeem": {"points_per_currency_unit": 100},
                }  # fmt: skip
            ),
        ),
        201,
    )
    invitation = _ok(
        _op("accounts", "merchants_add_staff").sync_detailed(
            merchant.id,
            client=owner,
            body=_model("StaffCreate").from_dict({"phone": clerk_phone, "role": "clerk"}),
        ),
        201,
    )
    _ok(_op("accounts", "me_accept_staff_invitation").sync_detailed(invitation.id, client=clerk))

    # the consumer's journey
    nearby = _ok(
        _op("discovery", "shops_nearby").sync_detailed(client=anonymous, lat=31.2304, lng=121.4737)
    )
    found = next(item for item in nearby.items if item.id == shop.id)
    assert found.best_offer == "立减¥10.00"
    page = _ok(_op("shops", "shops_page").sync_detailed(shop.id, client=me))
    assert page.shop.description == "老店" and [c.id for c in page.campaigns] == [campaign.id]
    assert [p.id for p in page.shop.photos] == [photo.id]
    assert page.campaigns[0].per_user_left == 1 and page.programs[0].my_card is None
    coupon = _ok(
        _op("coupons", "campaigns_claim_coupon").sync_detailed(campaign.id, client=me), 201
    )
    wallet = _ok(_op("coupons", "me_coupons").sync_detailed(client=me, usable_at=shop.id))
    assert [c.id for c in wallet.items] == [coupon.id]
    qr = _ok(_op("coupons", "coupons_qr").sync_detailed(coupon.id, client=me))
    assert qr.payload.read()[:8] == b"\x89PNG\r\n\x1a\n"
    redeemed = _ok(
        _op("coupons", "counter_redeem").sync_detailed(
            client=clerk,
            body=_model("CounterRequest").from_dict({"code": coupon.code, "shop_id": str(shop.id)}),
        )
    )
    review = _ok(
        _op("shops", "shops_create_review").sync_detailed(
            shop.id,
            client=me,
            body=_model("ReviewCreate").from_dict(
                {"rating": 5, "text": "好", "redemption_id": str(redeemed.redemption_id)}
            ),
        ),
        201,
    )
    assert review.verified is True
    card = _ok(_op("memberships", "programs_join").sync_detailed(program.id, client=me), 201)
    page = _ok(_op("shops", "shops_page").sync_detailed(shop.id, client=me))
    assert page.programs[0].my_card.id == card.id
    slot = page.offerings[0].next_slots[0]
    booking = _ok(
        _op("orders", "shops_book").sync_detailed(
            shop.id,
            client=me,
            body=_model("BookingCreate").from_dict(
                {"offering_id": str(page.offerings[0].id), "starts_at": slot.starts_at.isoformat()}
            ),
        ),
        201,
    )
    bookings = _ok(_op("orders", "me_bookings").sync_detailed(client=me))
    assert [b.id for b in bookings.items] == [booking.id]

    # order + pay, then the clerk consumes it at the counter
    order_body = _model("OrderCreate").from_dict(
        {"items": [{"offering_id": str(page.offerings[0].id)}]}
    )
    create_order = _op("orders", "shops_create_order")
    order = _ok(create_order.sync_detailed(shop.id, client=me, body=order_body), 201)
    assert order.status == "pending_payment" and order.total.amount == 8800
    assert order.refund_policy == "anytime"
    _provider_pays(base, settings, order.payment.reference)
    paid = _ok(_op("orders", "orders_get").sync_detailed(order.id, client=me))
    assert paid.status == "paid" and paid.usable_until is not None
    consumed = _ok(
        _op("orders", "counter_consume_by_code").sync_detailed(
            client=clerk,
            body=_model("OrderCounterRequest").from_dict(
                {"code": order.code, "shop_id": str(shop.id)}
            ),
        )
    )
    assert consumed.status == "consumed" and consumed.consumed_shop_id == shop.id
    # a second one the buyer refunds (the offering is sold 随时退)
    second = _ok(create_order.sync_detailed(shop.id, client=me, body=order_body), 201)
    _provider_pays(base, settings, second.payment.reference)
    refunded = _ok(_op("orders", "me_refund_order").sync_detailed(second.id, client=me))
    assert refunded.status == "refunded" and refunded.refunded_at is not None
    mine = _ok(_op("orders", "me_orders").sync_detailed(client=me))
    assert {(o.id, o.status) for o in mine.items} == {
        (order.id, "consumed"),
        (second.id, "refunded"),
    }

    # my offers: a flash offer to the merchant's customers reaches my inbox
    _ok(
        _op("push", "me_register_device").sync_detailed(
            client=me,
            body=_model("DeviceCreate").from_dict(
                {"token": "journey-device-token-0001", "platform": "android"}
            ),
        ),
        201,
    )
    flash_campaign = _ok(
        _op("coupons", "merchants_create_campaign").sync_detailed(
            merchant.id,
            client=owner,
            body=_model("CampaignCreate").from_dict(
                {
                    "name": "下午半价",
                    "discount": {"kind": "percent_off", "value": 50},
                    "valid_from": (now - timedelta(hours=1)).isoformat(),
                    "valid_until": (now + timedelta(days=1)).isoformat(),
                    "flash": True,
                }
            ),
        ),
        201,
    )
    _ok(_op("coupons", "campaigns_publish").sync_detailed(flash_campaign.id, client=owner))
    flash = _ok(
        _op("push", "merchants_create_flash_offer").sync_detailed(
            merchant.id,
            client=owner,
            body=_model("FlashOfferCreate").from_dict(
                {
                    "campaign_id": str(flash_campaign.id),
                    "shop_id": str(shop.id),
                    "audience": {"kind": "customers"},
                    "expires_in_minutes": 60,
                    "message": {"title": "限时特惠", "body": "今天下午洗剪吹立减"},
                }
            ),
        ),
        202,
    )
    me_offers = _op("push", "me_offers")
    offers = _eventually(lambda: _ok(me_offers.sync_detailed(client=me)), lambda o: o.items)
    assert [(o.id, o.status, o.claimed) for o in offers.items] == [(flash.id, "unread", False)]
    assert offers.items[0].campaign.id == flash_campaign.id
    _ok(_op("push", "me_read_offer").sync_detailed(flash.id, client=me), 204)
    claim = _op("coupons", "campaigns_claim_coupon")
    _ok(claim.sync_detailed(flash_campaign.id, client=me), 201)
    offers = _ok(me_offers.sync_detailed(client=me))
    assert [(o.status, o.claimed) for o in offers.items] == [("read", True)]

    export = _ok(_op("accounts", "me_export").sync_detailed(client=me))
    assert len(export.data["coupons"]) == 2 and len(export.data["orders"]) == 2
    _ok(
        _op("accounts", "me_delete").sync_detailed(
            client=me, body=_model("AccountDeletion").from_dict({"code": "000000"})
        ),
        400,
    )
    # a fresh code for the deletion, a minute after the sign-in code (one per minute a phone)
    phone = export.data["account"][0]["phone"]
    assert settings.redis_url
    Redis.from_url(settings.redis_url).delete(f"sms:gap:{phone}")
    body = _model("SmsCodeRequest").from_dict({"phone": phone, "purpose": "delete"})
    _ok(_op("accounts", "auth_sms_code").sync_detailed(client=anonymous, body=body), 202)
    code = _code_sent(settings, phone, "delete_code")
    _ok(
        _op("accounts", "me_delete").sync_detailed(
            client=me, body=_model("AccountDeletion").from_dict({"code": code})
        ),
        204,
    )


@pytest.mark.parametrize("op", ["shops_nearby", "counter_redeem", "shops_page", "me_export"])
def test_operation_ids_are_readable(op: str, app: Any) -> None:
    ids = [
        o["operationId"]
        for item in app.openapi()["paths"].values()
        for o in item.values()
        if isinstance(o, dict) and "operationId" in o
    ]
    assert op in ids and len(ids) == len(set(ids))
    assert not any(i.endswith(("_get", "_post")) and "_v1_" in i for i in ids)
