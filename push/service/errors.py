"""The push package's domain errors: stable snake_case codes, zh-CN/en titles."""

from __future__ import annotations

from core.errors import Conflict, InvalidInput, NotFound


class FlashOfferNotFound(NotFound):
    code, title = "flash_offer_not_found", "Flash offer not found"
    title_zh = "限时优惠不存在"


class CampaignNotFlash(InvalidInput):
    code, title = "campaign_not_flash", "The campaign is not a flash campaign of this merchant"
    title_zh = "该活动不是本商户的限时活动"


class AudienceNotAvailable(Conflict):
    code, title = "audience_not_available", "This audience kind is not available"
    title_zh = "暂不支持该受众类型"


class DeviceNotFound(NotFound):
    code, title = "device_not_found", "Device not registered"
    title_zh = "设备未注册"


class BirthdayCampaignInvalid(InvalidInput):
    code = "birthday_campaign_invalid"
    title = "The birthday coupon must come from one of this merchant's campaigns"
    title_zh = "生日券必须来自本商户的优惠券活动"

    def __init__(self) -> None:
        super().__init__(loc=["body", "campaign_id"])
