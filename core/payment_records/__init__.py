"""Durable payments: one row per payment (orders, top-ups, count-card purchases), the outbox of
provider calls that must follow a commit (refunds, closes), and the log of every callback.

Split by concept, every public name re-exported here (callers write `payment_records.X`):
- `models`: the tables (payments, payment_calls, payment_events);
- `records`: creating a payment in the caller's transaction, reading one;
- `views`: a payment as its merchant's staff see it;
- `callbacks`: applying a verified callback or query answer exactly once;
- `outbox`: refunds and closes decided in a transaction, sent after its commit;
- `sender`: the job that sends them (its own transactions);
- `reconcile`: the job that asks providers about late payments (its own transactions).

Invariants:
- A payment is created (provider called, row inserted) in the transaction that creates the
  thing it pays for; its state moves only by conditional UPDATEs:
  pending → succeeded | failed | closed, and failed | closed → succeeded (money that arrived
  late is recorded as it is, then refunded by the owner). A callback that moves nothing is a
  replay, a duplicate or out of order: it is logged and changes nothing.
- A callback is applied only when its amount and currency equal the payment's.
- `refunded` never passes `amount` (CHECK and a conditional UPDATE): a refund is requested by
  inserting a `payment_calls` row with its own `refund_no` (the provider's idempotency key,
  WeChat Pay's `out_refund_no`) in the transaction that decided it. The sender leases the row,
  commits, calls the provider, then records the answer: a worker that dies anywhere leaves a
  row that is sent again with the same `refund_no`, which the provider refunds once.
"""

from core.payment_records.callbacks import (
    MOVES_FROM,
    CallbackResult,
    apply_event,
    apply_fast,
    dispatch_callback,
    locked_payment,
    log_event,
    move_params,
    moved_payment,
)
from core.payment_records.models import (
    CALL_STATUSES,
    PAYMENT_KINDS,
    PAYMENT_STATUSES,
    Payment,
    PaymentCall,
    PaymentEvent,
)
from core.payment_records.outbox import refundable, request_close, request_refund
from core.payment_records.reconcile import reconcile_pending
from core.payment_records.records import (
    DEFAULT_METHODS,
    get_payment,
    merchant_of_payment,
    payment_of,
    start_payment,
)
from core.payment_records.sender import (
    MAX_ATTEMPTS,
    LeasedCall,
    lease_due_call,
    send_call,
    send_due_calls,
)
from core.payment_records.views import PaymentView, payment_schema

__all__ = [
    "CALL_STATUSES",
    "DEFAULT_METHODS",
    "MAX_ATTEMPTS",
    "MOVES_FROM",
    "PAYMENT_KINDS",
    "PAYMENT_STATUSES",
    "CallbackResult",
    "LeasedCall",
    "Payment",
    "PaymentCall",
    "PaymentEvent",
    "PaymentView",
    "apply_event",
    "apply_fast",
    "dispatch_callback",
    "get_payment",
    "lease_due_call",
    "locked_payment",
    "log_event",
    "merchant_of_payment",
    "move_params",
    "moved_payment",
    "payment_of",
    "payment_schema",
    "reconcile_pending",
    "refundable",
    "request_close",
    "request_refund",
    "send_call",
    "send_due_calls",
    "start_payment",
]
