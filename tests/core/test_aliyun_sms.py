"""SMS through the real Aliyun SDK (ACS3-HMAC-SHA256 signed `SendSms`) against the local
stand-in (core/standins/aliyun_sms.py): a template per kind, the merchant's signature,
refusals that are not retried, throttling and outages that are, and a wrong secret refused."""

from __future__ import annotations

from core.providers.aliyun_sms import AliyunSmsSender, aliyun_number
from core.settings import Settings
from core.sms import FLASH_OFFER, LOGIN_CODE, sms_message, sms_sender
from core.standins.aliyun_sms import AliyunSmsStandin
from core.standins.server import StandinServer
from tests.helpers import sms_settings


async def test_messages_use_their_kind_template_and_the_merchant_signature(
    test_settings: Settings, aliyun: tuple[AliyunSmsStandin, StandinServer]
) -> None:
    standin, server = aliyun
    standin.sign_names.add("老王面馆")
    sender = sms_sender(sms_settings(test_settings, standin, server))
    assert isinstance(sender, AliyunSmsSender)
    code = {"code": "123456", "minutes": "5"}
    result = await sender.send(sms_message("+8613800000001", LOGIN_CODE, code))
    assert result.ok and result.provider_id == standin.sent[-1]["biz_id"]
    assert standin.sent[-1]["text"] == "【街角】您的登录验证码为123456，5分钟内有效。"
    offer = sms_message("+8613800000002", FLASH_OFFER, {"title": "午市", "body": "牛肉面八折"},
                        sign_name="老王面馆")  # fmt: skip
    assert (await sender.send(offer)).ok
    assert standin.sent[-1]["text"] == "【老王面馆】午市：牛肉面八折"
    assert standin.sent[-1]["to"] == "13800000002"


async def test_refusals_are_final_and_throttling_is_retried(
    test_settings: Settings, aliyun: tuple[AliyunSmsStandin, StandinServer]
) -> None:
    standin, server = aliyun
    sender = sms_sender(sms_settings(test_settings, standin, server))
    code = {"code": "1", "minutes": "5"}
    bad_number = await sender.send(sms_message("+4420700000000", LOGIN_CODE, code))
    assert not bad_number.ok and not bad_number.retryable
    assert bad_number.error == "isv.MOBILE_NUMBER_ILLEGAL"
    foreign_sign = await sender.send(sms_message("+8613800000001", LOGIN_CODE, code, "别家"))
    assert foreign_sign.error == "isv.SMS_SIGNATURE_ILLEGAL" and not foreign_sign.retryable
    # a signature approved for another Aliyun account is not this access key's to use
    standin.other_accounts["LTAI5tOtherAccount000001"] = ("other-secret", {"隔壁面馆"})
    theirs = await sender.send(sms_message("+8613800000001", LOGIN_CODE, code, "隔壁面馆"))
    assert theirs.error == "isv.SMS_SIGNATURE_ILLEGAL" and not theirs.retryable
    other_account = sms_sender(
        sms_settings(
            test_settings,
            standin,
            server,
            sms_access_key_id="LTAI5tOtherAccount000001",
            sms_access_key_secret="other-secret",
        )
    )
    assert (
        await other_account.send(sms_message("+8613800000001", LOGIN_CODE, code, "隔壁面馆"))
    ).ok
    missing = await sender.send(sms_message("+8613800000001", LOGIN_CODE, {"code": "1"}))
    assert missing.error == "isv.TEMPLATE_MISSING_PARAMETERS"
    unknown_kind = await sender.send(sms_message("+8613800000001", "birthday", {"name": "x"}))
    assert not unknown_kind.ok and not unknown_kind.retryable
    standin.fail_next.append("isv.BUSINESS_LIMIT_CONTROL")
    throttled = await sender.send(sms_message("+8613800000001", LOGIN_CODE, code))
    assert not throttled.ok and throttled.retryable


async def test_a_wrong_secret_or_key_is_refused_by_signature(
    test_settings: Settings, aliyun: tuple[AliyunSmsStandin, StandinServer]
) -> None:
    standin, server = aliyun
    before = len(standin.sent)
    wrong = sms_sender(sms_settings(test_settings, standin, server, sms_access_key_secret="x"))
    result = await wrong.send(
        sms_message("+8613800000001", LOGIN_CODE, {"code": "1", "minutes": "5"})
    )
    assert not result.ok and not result.retryable and "SignatureDoesNotMatch" in str(result.error)
    other = sms_sender(sms_settings(test_settings, standin, server, sms_access_key_id="LTAIx"))
    result = await other.send(
        sms_message("+8613800000001", LOGIN_CODE, {"code": "1", "minutes": "5"})
    )
    assert not result.ok and "InvalidAccessKeyId" in str(result.error)
    assert len(standin.sent) == before
    assert aliyun_number("+8613800000001") == "13800000001"
