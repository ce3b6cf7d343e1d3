"""Order, booking and settlement rules. Other packages call what is exported here.

Split by concept: placing (new orders), orders (reading, cancel, expiry), moves (state moves
and their effects), views (the order's schema), refunds (merchant, buyer, automatic at the end
of validity), payments (provider callbacks), consume (the counter), bookings (book,
reschedule, cancel, the board), booking_slots (rules, free slots), reminders (the outbox),
day_close (the shop's day), settlement (monthly statements).
"""

from orders.service.booking_slots import (
    booking_rule,
    list_slots,
    next_free_slots,
    put_booking_rule,
)
from orders.service.bookings import (
    book,
    cancel_booking,
    get_booking,
    merchant_day,
    my_bookings,
    shop_bookings,
    update_booking,
)
from orders.service.consume import consume_by_code, consume_order, counter_lookup, lookup_order
from orders.service.day_close import day_close, day_close_csv, day_close_pdf
from orders.service.orders import (
    cancel_order,
    expire_due_orders,
    get_order,
    is_own_consumed_order,
    my_orders,
    order_qr_payload,
)
from orders.service.payments import apply_payment_event, apply_payment_fast
from orders.service.personal_data import erase_personal_data, export_personal_data
from orders.service.placing import REFERENCE_PREFIX, create_order
from orders.service.refunds import refund_by_holder, refund_expired_orders, refund_order
from orders.service.reminders import (
    DueReminder,
    drop_undeliverable_reminders,
    lock_due_reminders,
    mark_reminders_due,
    mark_reminders_sent,
)
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
