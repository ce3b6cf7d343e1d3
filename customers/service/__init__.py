"""The rules of the customers package; other packages call only what is exported here.

- `record_activity` / `set_tier`: report an interaction (or a tier change) with a merchant.
- `segment_user_ids`, `segment_contains`, `segment_user_ids_select`: segment audiences.
- `hand_over_work`: accounts' staff-removed hook (wired in api/wiring.py).
- `lock_pending_notices` / `finish_notices`: the service-desk notices push sends.
- `record_no_show`: orders reports a booking marked no_show.
"""

# a callback's one statement records the customer itself (orders.repository.pay_order_fast)
from customers.repository.activity import recorded_from, recorded_params
from customers.service.activity import (
    VISIT_KINDS,
    ActivityKind,
    record_activity,
    record_no_show,
    set_tier,
)
from customers.service.desk import (
    PendingNotice,
    finish_notices,
    hand_over_work,
    lock_pending_notices,
)
from customers.service.directory import csv_cell
from customers.service.personal_data import erase_personal_data, export_personal_data
from customers.service.segments import (
    SegmentNotFound,
    segment_contains,
    segment_user_ids,
    segment_user_ids_select,
)
from customers.service.walk_in import (
    CustomerExists,
    NewMember,
    add_members,
    create_walk_in,
    customer_for_phone,
    customers_born_on,
    customers_with_phone,
    holder_customer,
    known_customer,
    known_customers,
    link_customers_to_user,
    members_by_phone,
    phone_accounts,
    refresh_members,
    upsert_member,
)

__all__ = [
    "PendingNotice",
    "finish_notices",
    "hand_over_work",
    "lock_pending_notices",
    "NewMember",
    "add_members",
    "members_by_phone",
    "phone_accounts",
    "refresh_members",
    "csv_cell",
    "erase_personal_data",
    "export_personal_data",
    "CustomerExists",
    "create_walk_in",
    "customer_for_phone",
    "customers_born_on",
    "customers_with_phone",
    "known_customer",
    "holder_customer",
    "known_customers",
    "link_customers_to_user",
    "upsert_member",
    "VISIT_KINDS",
    "ActivityKind",
    "SegmentNotFound",
    "record_activity",
    "record_no_show",
    "recorded_from",
    "recorded_params",
    "segment_contains",
    "segment_user_ids",
    "segment_user_ids_select",
    "set_tier",
]
