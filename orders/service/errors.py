"""The refusals of the orders package, each with a stable code and a zh-CN title."""

from __future__ import annotations

from core.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from core.i18n import Words, localised

# statuses said in words (the codes stay in the API)
ORDER_STATUS = Words(
    {
        "pending_payment": ("待支付", "awaiting payment"),
        "paid": ("已支付", "paid"),
        "consumed": ("已消费", "consumed"),
        "refunded": ("已退款", "refunded"),
        "expired": ("已过期", "expired"),
        "cancelled": ("已取消", "cancelled"),
    }
)
BOOKING_STATUS = Words(
    {
        "booked": ("已预约", "booked"),
        "arrived": ("已到店", "arrived"),
        "completed": ("已完成", "completed"),
        "no_show": ("爽约", "no-show"),
        "cancelled": ("已取消", "cancelled"),
    }
)


class OrderNotFound(NotFound):
    code, title, title_zh = "order_not_found", "Order not found", "订单不存在"


class OrderTransitionInvalid(Conflict):
    code = "order_transition_invalid"
    title, title_zh = "The order cannot move to that status", "订单当前状态不允许该操作"


class OrderAlreadyConsumed(Conflict):
    code, title, title_zh = "order_already_consumed", "Order already consumed", "订单已消费"


class OrderNotPaid(Conflict):
    code, title, title_zh = "order_not_paid", "The order has not been paid", "订单尚未支付"


class RefundNotAllowed(Conflict):
    code = "refund_not_allowed"
    title, title_zh = "The order's terms do not allow this refund", "该订单不支持此退款"


class OrderValidityOver(Conflict):
    code = "order_validity_over"
    title, title_zh = "The order's validity period is over", "订单已过有效期"


class OrderCodeInvalid(InvalidInput):
    code, title = "order_code_invalid", "This is not a valid order code (check for typos)"
    title_zh = "订单码无效，请检查是否输错"

    def __init__(self) -> None:
        super().__init__(loc=["body", "code"])


class OrderQrInvalid(InvalidInput):
    code, title = "qr_invalid", "The QR code is not a genuine order"
    title_zh = "二维码无效或已被篡改"

    def __init__(self) -> None:
        super().__init__(loc=["body", "qr"])


class OfferingNotOnShop(InvalidInput):
    code = "offering_not_available"
    title, title_zh = "The offering is not sold by this shop", "该门店不销售此商品"


class CurrencyMismatch(DomainError):
    status, code, title = 422, "currency_mismatch", "The amounts are in different currencies"
    title_zh = "币种不一致"


class PointsExceedTotal(DomainError):
    status, code = 422, "points_exceed_total"
    title, title_zh = "The points are worth more than the order", "积分抵扣超过订单金额"


class OfferingNotBookable(Conflict):
    code, title, title_zh = (
        "offering_not_bookable",
        "This offering cannot be booked",
        "该服务不可预约",
    )


class SlotInvalid(InvalidInput):
    code = "slot_invalid"
    title, title_zh = "No slot starts at that time", "该时间没有可预约的时段"


class SlotInPast(InvalidInput):
    code = "slot_in_past"
    title, title_zh = "That slot has already started", "该时段已开始，无法预约"


class SlotFull(Conflict):
    code, title, title_zh = "slot_full", "The slot is fully booked", "该时段已约满"


class BookingNotFound(NotFound):
    code, title, title_zh = "booking_not_found", "Booking not found", "预约不存在"


class BookingCancelled(Conflict):
    code, title, title_zh = "booking_cancelled", "The booking was cancelled", "预约已取消"


class PeriodInvalid(InvalidInput):
    code = "period_invalid"
    title, title_zh = "The period must be a month, YYYY-MM", "结算周期格式应为 YYYY-MM"

    def __init__(self) -> None:
        super().__init__(loc=["query", "period"])


class BookingTransitionInvalid(Conflict):
    code = "booking_transition_invalid"
    title, title_zh = "The booking cannot move to that status", "预约当前状态不允许该变更"

    def __init__(self, current: str, to: str) -> None:
        super().__init__(
            localised(
                f"{BOOKING_STATUS.say(current)}的预约不能改为{BOOKING_STATUS.say(to)}",
                f"A {BOOKING_STATUS.say(current)} booking cannot become {BOOKING_STATUS.say(to)}",
            ),
            extra={"from": current, "to": to},
        )


class BookingNotStarted(Conflict):
    code = "booking_not_started"
    title = "A booking can be marked no-show only once it has started"
    title_zh = "预约时间未到，不能标记为爽约"


class BookingStatusStaffOnly(Forbidden):
    code = "booking_status_staff_only"
    title, title_zh = "Only the shop's staff set a booking's status", "只有门店员工可以变更预约状态"


class BookingCustomerStaffOnly(Forbidden):
    code = "booking_customer_staff_only"
    title, title_zh = "Only the shop's staff book for a customer", "只有门店员工可以替客户预约"


class BookingUpdateMixed(InvalidInput):
    code = "booking_update_mixed"
    title = "Change the status alone, without the time, party size or note"
    title_zh = "变更预约状态时不能同时修改时间、人数或备注"

    def __init__(self) -> None:
        super().__init__(loc=["body", "status"])


class BookingCustomerAmbiguous(InvalidInput):
    code = "booking_customer_ambiguous"
    title = "Name the customer by their customer id or by phone, not both"
    title_zh = "请只用客户编号或手机号其中之一指定客户"

    def __init__(self) -> None:
        super().__init__(loc=["body", "phone"])
