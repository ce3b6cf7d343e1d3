"""Refusals of the memberships package, each with a stable code (SPEC §5)."""

from __future__ import annotations

from typing import Any

from core.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound

# shared with orders: defined beside the provider interface, re-exported here
from core.payments import PaymentProviderUnknown as PaymentProviderUnknown
from core.payments import PaymentSignatureInvalid as PaymentSignatureInvalid


class ProgramNotFound(NotFound):
    code, title, title_zh = "program_not_found", "Membership program not found", "会员卡计划不存在"


class TierInUse(Conflict):
    code, title, title_zh = (
        "tier_in_use",
        "Cards are still in this tier",
        "该等级下仍有会员卡",
    )


class CardNotFound(NotFound):
    code, title, title_zh = "card_not_found", "Card not found", "会员卡不存在"


class TransactionNotFound(NotFound):
    code, title, title_zh = "transaction_not_found", "Card transaction not found", "交易记录不存在"


class TopupNotFound(NotFound):
    code, title, title_zh = "topup_not_found", "Top-up not found", "充值记录不存在"


class CardExists(Conflict):
    code, title, title_zh = (
        "card_exists",
        "You already hold a card of this program",
        "您已持有该会员卡",
    )


class InsufficientPoints(Conflict):
    code, title, title_zh = "insufficient_points", "Not enough points on the card", "积分不足"


class InsufficientBalance(Conflict):
    code, title, title_zh = (
        "insufficient_balance",
        "Not enough stored value on the card",
        "余额不足",
    )


class CardPinUnavailable(DomainError):
    # guesses are counted in Redis: without it no PIN is checked at all (fails closed)
    status, code, title, title_zh = (
        503,
        "card_pin_unavailable",
        "PIN checks are temporarily unavailable",
        "支付密码验证暂时不可用",
    )

    def __init__(self) -> None:
        super().__init__(headers={"Retry-After": "5"})


class CardPinInvalid(Forbidden):
    code, title, title_zh = "card_pin_invalid", "The card PIN is wrong", "支付密码错误"


class CardPinRequired(Forbidden):
    code, title, title_zh = "card_pin_required", "Spending needs the card PIN", "请输入支付密码"


class CardPinNotSet(Forbidden):
    code, title, title_zh = "card_pin_not_set", "The card has no PIN yet", "会员卡尚未设置支付密码"


class CardPinLocked(DomainError):
    status, code = 423, "card_pin_locked"
    title, title_zh = (
        "Too many wrong PINs: spending is locked for a while",
        "密码错误次数过多，已暂时锁定",
    )

    def __init__(self, retry_after: int, **kwargs: Any) -> None:
        retry_after = max(1, retry_after)
        super().__init__(headers={"Retry-After": str(retry_after)}, **kwargs)
        self.extra["retry_after"] = retry_after


class QrInvalid(InvalidInput):
    code, title, title_zh = "qr_invalid", "The member QR code is not valid", "会员码无效"

    def __init__(self) -> None:
        super().__init__(loc=["body", "card"])


class QrExpired(Conflict):
    code, title, title_zh = "qr_expired", "The member QR code has expired", "会员码已过期，请刷新"


class QrUsed(Conflict):
    code, title, title_zh = "qr_used", "The member QR code was already used", "会员码已使用，请刷新"


class CurrencyMismatch(InvalidInput):
    code, title, title_zh = (
        "currency_mismatch",
        "The amount is not in the card's currency",
        "币种不符",
    )


class AlreadyReversed(Conflict):
    code = "transaction_already_reversed"
    title, title_zh = "The transaction was already reversed", "该交易已撤销"


class NotReversible(Conflict):
    code = "transaction_not_reversible"
    title, title_zh = "Only counter transactions can be reversed", "该记录不可撤销"


class CountProductNotFound(NotFound):
    code, title, title_zh = "count_product_not_found", "Count card product not found", "次卡不存在"


class CountProductInactive(Conflict):
    code, title, title_zh = (
        "count_product_inactive",
        "This count card is no longer sold",
        "该次卡已停售",
    )


class CountPassNotFound(NotFound):
    code, title, title_zh = (
        "count_pass_not_found",
        "The card holds no such paid count card",
        "该会员卡没有此次卡",
    )


class CountPassExhausted(Conflict):
    code, title, title_zh = (
        "count_pass_exhausted",
        "The count card has no uses left",
        "次卡次数已用完",
    )


class CountPassExpired(Conflict):
    code, title, title_zh = "count_pass_expired", "The count card has expired", "次卡已过期"


class CountPassShopExcluded(Conflict):
    code, title, title_zh = (
        "count_pass_shop_excluded",
        "The count card cannot be used at this shop",
        "该次卡不适用于本门店",
    )


class PhysicalCardNotFound(NotFound):
    code, title, title_zh = (
        "physical_card_not_found",
        "No unbound pre-printed card of this program has this number",
        "该实体卡号不存在",
    )


class PhysicalCardBound(Conflict):
    code, title, title_zh = (
        "physical_card_bound",
        "This pre-printed card number is already bound",
        "该实体卡号已绑定",
    )


class CardHasPhysicalCard(Conflict):
    code, title, title_zh = (
        "card_has_physical_card",
        "The card already has a pre-printed number bound",
        "该会员卡已绑定实体卡",
    )


class PhysicalCardInvalid(InvalidInput):
    code, title, title_zh = (
        "physical_card_invalid",
        "Not a valid pre-printed card number",
        "实体卡号无效",
    )


class PhysicalImportInvalid(InvalidInput):
    code, title, title_zh = (
        "physical_card_import_invalid",
        "The card number file cannot be read",
        "卡号文件无法读取",
    )


class ImageInvalid(InvalidInput):
    code, title, title_zh = "image_invalid", "The image could not be used", "图片无法使用"


class MemberBookInvalid(InvalidInput):
    code, title = "member_book_invalid", "The member book cannot be read"
    title_zh = "会员名册无法读取"


class ProgramRequired(InvalidInput):
    code, title = "program_required", "The member book has card columns: name the programme"
    title_zh = "会员名册包含卡信息，请指定会员卡计划"


class MemberPhoneMissing(Conflict):
    code, title, title_zh = (
        "member_phone_missing",
        "The member has no phone number to send a code to",
        "该会员没有可接收验证码的手机号",
    )
