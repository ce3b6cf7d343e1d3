"""Flash offers by SMS through the real Aliyun SDK to its stand-in (core/standins/aliyun_sms.py),
driven by the push outbox: the `flash_offer` template, a throttled send retried until sent,
a refusal recorded on the delivery and not retried, the merchant's own signature (issue 20
point 4)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.settings import Settings
from core.sms import sms_sender
from core.standins.aliyun_sms import AliyunSmsStandin
from core.standins.server import StandinServer
from push.service.senders import LogPushSender, Senders
from tests.helpers import ApiClient, sms_settings
from tests.push.helpers import Pipeline, merchant_with_shop, offer_body, offset, subscriber


@pytest.fixture
async def aliyun_senders(
    aliyun: tuple[AliyunSmsStandin, StandinServer], test_settings: Settings, tmp_path: Path
) -> AsyncIterator[Senders]:
    senders = Senders(push=LogPushSender(), sms=sms_sender(sms_settings(test_settings, *aliyun)))
    yield senders
    await senders.aclose()


async def test_offer_sms_are_retried_when_throttled_and_refusals_recorded(
    client: ApiClient,
    pipeline: Pipeline,
    aliyun_senders: Senders,
    aliyun: tuple[AliyunSmsStandin, StandinServer],
) -> None:
    standin = aliyun[0]
    reader, _ = await subscriber(
        client, at=offset(100), categories=["dining"], devices=0, channels=["sms"]
    )
    sent_before = len(standin.sent)

    owner, merchant_id, shop_id = await merchant_with_shop(client)
    standin.fail_next.append("isv.BUSINESS_LIMIT_CONTROL")  # Aliyun's throttling: retried
    r = await client.post(
        f"/v1/merchants/{merchant_id}/flash-offers", json=offer_body(shop_id), headers=owner.headers
    )
    assert r.status_code == 202 and r.json()["recipients_estimate"] == 1, r.text
    await pipeline.drain(pipeline.consumer(aliyun_senders))
    [row] = await pipeline.deliveries(r.json()["id"])
    assert (row["channel"], row["status"], row["attempts"]) == ("sms", "sent", 2)
    [sms] = standin.sent[sent_before:]
    assert sms["to"] == reader.phone.removeprefix("+86")
    assert sms["template"] == "SMS_100000003"  # the flash_offer kind's template
    assert sms["text"] == "【街角】限时特惠：牛肉面半价，仅限今天下午"

    owner2, merchant2, shop2 = await merchant_with_shop(client)
    standin.fail_next.append("isv.MOBILE_NUMBER_ILLEGAL")  # a refusal: final, recorded
    r = await client.post(
        f"/v1/merchants/{merchant2}/flash-offers", json=offer_body(shop2), headers=owner2.headers
    )
    assert r.status_code == 202, r.text
    await pipeline.drain(pipeline.consumer(aliyun_senders))
    [row] = await pipeline.deliveries(r.json()["id"])
    assert (row["status"], row["error"], row["attempts"]) == (
        "failed",
        "isv.MOBILE_NUMBER_ILLEGAL",
        1,
    )
    assert len(standin.sent) == sent_before + 1


async def test_offer_sms_carry_the_merchants_signature_and_an_unapproved_one_is_recorded(
    client: ApiClient,
    pipeline: Pipeline,
    aliyun_senders: Senders,
    aliyun: tuple[AliyunSmsStandin, StandinServer],
) -> None:
    """A merchant with an SMS signature approved for the platform's Aliyun account sends its
    offers under it; one the account does not have (another account's) is refused by Aliyun
    (`isv.SMS_SIGNATURE_ILLEGAL`): the delivery records it and is not retried."""
    standin = aliyun[0]
    standin.sign_names.add("老王面馆")
    standin.other_accounts["LTAI5tOtherAccount000000"] = ("secret", {"别家小店"})
    reader, _ = await subscriber(
        client, at=offset(100), categories=["dining"], devices=0, channels=["sms"]
    )
    sent_before = len(standin.sent)

    signed: list[str] = []
    for sign in ("老王面馆", "别家小店"):
        owner, merchant_id, shop_id = await merchant_with_shop(client)
        r = await client.patch(
            f"/v1/merchants/{merchant_id}", json={"sms_sign_name": sign}, headers=owner.headers
        )
        assert r.status_code == 200, r.text
        r = await client.post(
            f"/v1/merchants/{merchant_id}/flash-offers",
            json=offer_body(shop_id),
            headers=owner.headers,
        )
        assert r.status_code == 202, r.text
        signed.append(r.json()["id"])
    await pipeline.drain(pipeline.consumer(aliyun_senders))

    [sms] = standin.sent[sent_before:]
    assert sms["to"] == reader.phone.removeprefix("+86") and sms["sign"] == "老王面馆"
    assert sms["text"] == "【老王面馆】限时特惠：牛肉面半价，仅限今天下午"
    [ok] = await pipeline.deliveries(signed[0])
    [refused] = await pipeline.deliveries(signed[1])
    assert (ok["status"], ok["attempts"]) == ("sent", 1)
    assert (refused["status"], refused["error"], refused["attempts"]) == (
        "failed",
        "isv.SMS_SIGNATURE_ILLEGAL",
        1,
    )
