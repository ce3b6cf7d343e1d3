"""Order, booking and settlement rules. Other packages call what is exported here.

Split by concept: orders (placing, reading, cancel, expiry), refunds (merchant, buyer,
automatic at the end of validity), payments (provider
callbacks), consume (the counter), bookings (slots, book, reschedule, cancel, reminders),
settlement (monthly statements).
"""

from orders.service.bookings import (
    DueReminder,
    book,
    booking_rule,
    cancel_booking,
    drop_undeliverable_reminders,
    get_booking,
    list_slots,
    lock_due_reminders,
    mark_reminders_due,
    mark_reminders_sent,
    merchant_day,
    my_bookings,
    next_free_slots,
    put_booking_rule,
    shop_bookings,
    update_booking,
)
from orders.service.consume import consume_by_code, consume_order, counter_lookup, lookup_order
from orders.service.day_close import day_close, day_close_csv, day_close_pdf
from orders.service.orders import (
    REFERENCE_PREFIX,
    cancel_order,
    create_order,
    expire_due_orders,
    get_order,
    is_own_consumed_order,
    my_orders,
    order_qr_payload,
)
from orders.service.payments import apply_payment_event, apply_payment_fast
from orders.service.personal_data import erase_personal_data, export_personal_data
from orders.service.refunds import refund_by_holder, refund_expired_orders, refund_order
from orders.service.settlement import statement, statement_csv

__all__ = [
    "day_close",
    "day_close_csv",
    "day_close_pdf",
    "erase_personal_data",
    "export_personal_data",
    "REFERENCE_PREFIX",
    "apply_payment_event",
    "apply_payment_fast",
    "book",
    "booking_rule",
    "cancel_booking",
    "cancel_order",
    "consume_by_code",
    "consume_order",
    "counter_lookup",
    "create_order",
    "expire_due_orders",
    "get_booking",
    "get_order",
    "is_own_consumed_order",
    "list_slots",
    "lookup_order",
    "DueReminder",
    "drop_undeliverable_reminders",
    "lock_due_reminders",
    "mark_reminders_due",
    "mark_reminders_sent",
    "merchant_day",
    "my_orders",
    "order_qr_payload",
    "put_booking_rule",
    "refund_by_holder",
    "refund_expired_orders",
    "refund_order",
    "my_bookings",
    "next_free_slots",
    "shop_bookings",
    "statement",
    "statement_csv",
    "update_booking",
]
