"""A typed client generated from /openapi.json with openapi-python-client drives the
consumer's journey against a real server (uvicorn on a loopback port), through that client
only. Generation must print no warning: a dropped model or response fails the test.

Covered: SMS sign-in (code read from the log sink) → nearby (with best_offer) → shop page →
claim → my coupons → coupon QR (binary) → a clerk redeems → verified review → join the card
→ book a slot from the page's next_slots → my bookings → my offers → export → delete.
Not covered here: order + payment (the fake provider's signed callback) and consumption.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis import Redis

from core.settings import Settings
from tests.hardening.live import live_server
from tests.helpers import fresh_phone

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
    with live_server(test_settings) as base:
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
                {"name": "洗剪吹", "price": {"amount": 8800, "currency": "CNY"}, "bookable": True}
            ),
        ),
        201,
    )
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
    offers = _ok(_op("push", "me_offers").sync_detailed(client=me))
    assert offers.items == []
    export = _ok(_op("accounts", "me_export").sync_detailed(client=me))
    assert len(export.data["coupons"]) == 1
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
