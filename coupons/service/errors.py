"""The refusals of the coupons package, each with a stable code and a zh-CN title."""

from __future__ import annotations

from core.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from core.i18n import Words, localised

# enum values said in words (the codes stay in the API)
CAMPAIGN_STATUS = Words(
    {
        "draft": ("草稿", "a draft"),
        "published": ("已发布", "published"),
        "paused": ("已暂停", "paused"),
        "ended": ("已结束", "ended"),
    }
)
CAMPAIGN_FIELDS = Words(
    {
        "name": ("名称", "name"),
        "description": ("说明", "description"),
        "discount": ("优惠内容", "discount"),
        "min_spend": ("最低消费", "minimum spend"),
        "valid_from": ("生效时间", "start of validity"),
        "valid_until": ("有效期", "end of validity"),
        "claim_until": ("领取截止时间", "end of claiming"),
        "total_quantity": ("发放总量", "total quantity"),
        "per_user_limit": ("每人限领", "limit per person"),
        "audience": ("发放对象", "audience"),
        "shop_ids": ("适用门店", "shops"),
        "flash": ("限时优惠", "flash offer"),
    }
)
AUDIENCE_KIND = Words(
    {
        "public": ("所有人", "everyone"),
        "tiers": ("会员等级", "membership tiers"),
        "segment": ("客户分群", "customer segments"),
        "customers": ("指定客户", "named customers"),
    }
)


class CampaignNotFound(NotFound):
    code, title, title_zh = "campaign_not_found", "Campaign not found", "优惠活动不存在"


class CampaignNotActive(Conflict):
    code, title = "campaign_not_active", "The campaign is not handing out coupons now"
    title_zh = "该优惠活动当前不可领取"


class CampaignSoldOut(Conflict):
    code, title, title_zh = "campaign_sold_out", "All coupons have been handed out", "优惠券已领完"


class ClaimLimitReached(Conflict):
    code, title = "claim_limit_reached", "You already hold as many of these coupons as allowed"
    title_zh = "已达到每人限领数量"


class NotInAudience(Forbidden):
    code, title = "not_in_audience", "This campaign is not offered to you"
    title_zh = "您不在该优惠活动的发放范围内"


class AudienceNotAvailable(Conflict):
    code, title = "audience_not_available", "This kind of audience cannot be resolved yet"
    title_zh = "暂不支持该发放对象类型"


class CampaignNotEditable(Conflict):
    code, title = "campaign_not_editable", "This field of the campaign cannot change now"
    title_zh = "该优惠活动当前不能修改此项"


def claim_after_validity() -> InvalidInput:
    """Claiming may not run past the coupons' validity (a new design or a live edit)."""
    return InvalidInput(
        localised("领取截止时间不能晚于有效期结束", "Claiming cannot end after the validity does"),
        loc=["body", "claim_until"],
    )


class QuantityBelowClaimed(InvalidInput):
    code, title = "quantity_below_claimed", "The quantity is below what is already handed out"
    title_zh = "发放总量不能低于已领取数量"


class ValidityShortened(InvalidInput):
    code, title = "campaign_validity_shortened", "A live campaign's validity cannot be shortened"
    title_zh = "已发布活动的有效期不能缩短"


class CampaignTransitionInvalid(Conflict):
    code, title = "campaign_transition_invalid", "The campaign cannot move to that status"
    title_zh = "优惠活动状态无法变更"


class CouponNotFound(NotFound):
    code, title, title_zh = "coupon_not_found", "Coupon not found", "优惠券不存在"


class CouponCodeInvalid(InvalidInput):
    code, title = "coupon_code_invalid", "This is not a valid coupon code (check for typos)"
    title_zh = "券码无效，请检查是否输错"

    def __init__(self) -> None:
        super().__init__(loc=["body", "code"])


class QrInvalid(InvalidInput):
    code, title = "qr_invalid", "The QR code is not a genuine coupon"
    title_zh = "二维码无效或已被篡改"

    def __init__(self) -> None:
        super().__init__(loc=["body", "qr"])


class CouponAlreadyRedeemed(Conflict):
    code, title, title_zh = "coupon_already_redeemed", "Coupon already redeemed", "优惠券已核销"


class CouponReserved(Conflict):
    code = "coupon_reserved"
    title = "The coupon is held by an online order waiting for payment"
    title_zh = "该优惠券已被待支付的线上订单占用"


class CouponExpired(Conflict):
    code, title, title_zh = "coupon_expired", "The coupon has expired", "优惠券已过期"


class CouponNotYetValid(Conflict):
    code, title, title_zh = "coupon_not_yet_valid", "The coupon is not valid yet", "优惠券尚未生效"


class MinSpendNotMet(DomainError):
    status, code, title = 422, "min_spend_not_met", "The order does not reach the minimum spend"
    title_zh = "未达到最低消费金额"


class OrderAmountRequired(DomainError):
    status, code, title = 422, "order_amount_required", "This coupon needs the order amount"
    title_zh = "该优惠券需要填写订单金额"


class ShopNotEligible(DomainError):
    status, code, title = 422, "shop_not_eligible", "The coupon cannot be used at this shop"
    title_zh = "该门店不适用此优惠券"


class CurrencyMismatch(DomainError):
    status, code, title = 422, "currency_mismatch", "The amounts are in different currencies"
    title_zh = "币种不一致"


class RedemptionNotFound(NotFound):
    code, title, title_zh = "redemption_not_found", "Redemption not found", "核销记录不存在"


class RedemptionAlreadyReversed(Conflict):
    code, title = "redemption_already_reversed", "The redemption was already reversed"
    title_zh = "该核销已撤销"


class ReversalWindowPassed(Conflict):
    code, title = "reversal_window_passed", "The redemption is too old to be reversed"
    title_zh = "已超过可撤销核销的时限"
