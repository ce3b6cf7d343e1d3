from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from accounts.schemas import normalise_phone
from core.money import Money
from core.pagination import Page
from core.payments import PaymentInstructions as PaymentInstructions
from core.payments import PaymentRequest
from merchants.schemas import RefundPolicy

OrderStatus = Literal["pending_payment", "paid", "consumed", "refunded", "expired", "cancelled"]
BookingStatus = Literal["booked", "arrived", "completed", "no_show", "cancelled"]
# what staff set on the bookings board (cancelling has its own route)
BoardStatus = Literal["arrived", "completed", "no_show"]


class OrderItemCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    offering_id: uuid.UUID
    quantity: int = Field(default=1, ge=1, le=99)


class OrderCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[OrderItemCreate] = Field(min_length=1, max_length=20)
    coupon_code: str | None = Field(default=None, min_length=1, max_length=64)
    card_id: uuid.UUID | None = None
    use_points: int | None = Field(
        default=None, ge=1, le=10_000_000, description="Points of `card_id` to pay with"
    )
    payment: PaymentRequest | None = None

    @model_validator(mode="after")
    def _points_need_card(self) -> OrderCreate:
        if self.use_points is not None and self.card_id is None:
            raise ValueError("use_points needs card_id")
        return self


class OrderItem(BaseModel):
    offering_id: uuid.UUID
    name: str
    unit_price: Money
    quantity: int
    line_total: Money


class AppliedCoupon(BaseModel):
    coupon_id: uuid.UUID
    discount: Money
    redemption_id: uuid.UUID | None = None


class AppliedCard(BaseModel):
    card_id: uuid.UUID
    discount_percent: int
    discount: Money
    points_used: int
    points_value: Money
    points_earned: int | None = Field(
        default=None, description="Credited when the order is consumed"
    )


class Order(BaseModel):
    kind: Literal["order"] = "order"
    id: uuid.UUID
    merchant_id: uuid.UUID
    shop_id: uuid.UUID
    user_id: uuid.UUID
    code: str
    code_display: str
    name: str = Field(description="A one-line summary of the items, for lists and the counter")
    status: OrderStatus
    items: list[OrderItem]
    subtotal: Money
    coupon: AppliedCoupon | None = None
    card: AppliedCard | None = None
    discount: Money = Field(description="Everything taken off the subtotal")
    total: Money = Field(description="What the customer pays (paid)")
    payment: PaymentInstructions | None = None
    expires_at: datetime
    paid_at: datetime | None = None
    consumed_at: datetime | None = None
    consumed_shop_id: uuid.UUID | None = None
    refunded_at: datetime | None = None
    closed_at: datetime | None = Field(default=None, description="When it was cancelled/expired")
    refund_policy: RefundPolicy = Field(
        description="The refund terms it was sold under (the strictest of its offerings')"
    )
    usable_until: datetime | None = Field(
        default=None, description="Once paid: the end of its validity (null: no end)"
    )
    created_at: datetime


class OrderCounterRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str | None = Field(default=None, min_length=1, max_length=64)
    qr: str | None = Field(default=None, min_length=1, max_length=512)
    shop_id: uuid.UUID

    @model_validator(mode="after")
    def _one_of(self) -> OrderCounterRequest:
        if (self.code is None) == (self.qr is None):
            raise ValueError("give exactly one of `code` or `qr`")
        return self


class OrderConsume(BaseModel):
    model_config = ConfigDict(extra="forbid")

    shop_id: uuid.UUID


class Refusal(BaseModel):
    code: str
    title: str
    detail: str | None = None
    extra: dict[str, Any] = Field(default_factory=dict)


class OrderLookup(BaseModel):
    kind: Literal["order"] = "order"
    consumable: bool
    refusal: Refusal | None = None
    order: Order


# -- bookings ------------------------------------------------------------------------------


class BookingRuleUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slot_minutes: int = Field(ge=5, le=1440)
    capacity: int = Field(ge=1, le=1000)


class BookingRule(BaseModel):
    offering_id: uuid.UUID
    slot_minutes: int
    capacity: int


class Slot(BaseModel):
    starts_at: datetime
    ends_at: datetime
    capacity: int
    booked: int
    available: int


class SlotList(BaseModel):
    offering_id: uuid.UUID
    date: date
    timezone: str
    slot_minutes: int
    items: list[Slot]


class BookingCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    offering_id: uuid.UUID
    starts_at: AwareDatetime
    party_size: int = Field(default=1, ge=1, le=50)
    note: str | None = Field(default=None, max_length=500)
    customer_id: uuid.UUID | None = Field(
        default=None, description="Staff only: book for this customer of the merchant"
    )
    phone: str | None = Field(
        default=None,
        description="Staff only: book for the customer with this phone (a new walk-in "
        "customer when the merchant does not know it)",
    )
    customer_name: str | None = Field(
        default=None, min_length=1, max_length=64, description="Name of a new walk-in customer"
    )

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        return normalise_phone(value) if value is not None else None


class BookingUpdate(BaseModel):
    """Reschedule (a new `starts_at`), or change the party size or the note; or (staff, alone)
    move the booking on the board: `status` arrived, completed or no_show."""

    model_config = ConfigDict(extra="forbid")

    starts_at: AwareDatetime | None = None
    party_size: int | None = Field(default=None, ge=1, le=50)
    note: str | None = Field(default=None, max_length=500)
    status: BoardStatus | None = None


class Booking(BaseModel):
    id: uuid.UUID
    merchant_id: uuid.UUID
    shop_id: uuid.UUID
    offering_id: uuid.UUID
    offering_name: str
    user_id: uuid.UUID | None = Field(description="Null for a walk-in customer without the app")
    customer_id: uuid.UUID | None
    customer_name: str | None
    customer_phone: str | None = Field(description="Masked (138****5678) for clerks")
    booked_by: uuid.UUID | None = Field(description="The staff member who booked, if staff did")
    starts_at: datetime
    ends_at: datetime
    party_size: int
    status: BookingStatus
    note: str | None
    created_at: datetime
    cancelled_at: datetime | None
    arrived_at: datetime | None
    completed_at: datetime | None
    no_show_at: datetime | None


# -- settlement ----------------------------------------------------------------------------


class Statement(BaseModel):
    merchant_id: uuid.UUID
    period: str
    currency: str
    timezone: str
    status: Literal["open", "closed"]
    period_start: datetime
    period_end: datetime
    fee_rate_bps: int
    collected: Money = Field(description="Paid by customers in the period")
    refunded: Money = Field(description="Refunded to customers in the period")
    consumed: Money = Field(description="Orders consumed in the period: what is settled")
    fees: Money = Field(description="The platform's fee on the consumed orders")
    payable: Money = Field(description="What the platform owes the merchant: consumed - fees")
    orders_paid: int
    orders_refunded: int
    orders_consumed: int
    rounding: str = Field(description="How fees are rounded")
    generated_at: datetime
    closed_at: datetime | None


__all__ = ["Page"]


# -- day close (日结) -----------------------------------------------------------------------

# a day close further out is a typo (and would leave the datetime range at the extremes)
DAY_CLOSE_EARLIEST, DAY_CLOSE_LATEST = date(2000, 1, 1), date(2999, 12, 31)


class DayCloseRedemptions(BaseModel):
    redeemed: int
    discount: Money
    order_amount: Money = Field(description="Order amounts the clerks entered, where they did")
    reversed: int
    reversed_discount: Money


class DayCloseLedgerKind(BaseModel):
    kind: str = Field(description="Ledger kind: earn (purchase), spend_points, spend_balance, …")
    label: str = Field(description="In the request's language")
    count: int
    points: int = Field(description="Points added (negative: taken)")
    balance_delta: int = Field(description="Stored value added in minor units (negative: spent)")
    principal_delta: int
    bonus_delta: int
    amount: Money = Field(description="Purchase amounts (before the tier discount) or value used")
    uses: int = Field(description="Count-card uses (negative: used)")


class DayCloseOrders(BaseModel):
    consumed: int
    consumed_total: Money
    refunded: int
    refunded_total: Money


class DayCloseStaff(BaseModel):
    staff_user_id: uuid.UUID | None
    name: str
    redemptions: int
    discount: Money
    card_transactions: int
    card_purchases: Money = Field(description="Member purchases taken (paid, after discount)")
    balance_spent: Money
    orders_consumed: int
    orders_consumed_total: Money


class DayClose(BaseModel):
    merchant_id: uuid.UUID
    shop_id: uuid.UUID | None = Field(description="Null for the merchant-wide close")
    date: date
    timezone: str
    start: datetime
    end: datetime
    currency: str
    redemptions: DayCloseRedemptions
    card_transactions: list[DayCloseLedgerKind]
    count_uses: int
    orders: DayCloseOrders
    by_staff: list[DayCloseStaff]
