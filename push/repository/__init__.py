"""Every query of the push package, one module per concept, re-exported here.

- `devices`: registration tokens;
- `subscriptions`: preferences and followed merchants;
- `locations`: pings, activity areas and their retention;
- `offers`: flash offers, their audiences and the fan-out statement;
- `outbox`: due batches, claimed deliveries, leases, results and retries.
"""

from __future__ import annotations

from push.repository.devices import (
    delete_device,
    delete_devices_by_id,
    devices_of_users,
    upsert_device,
)
from push.repository.locations import (
    AreaRow,
    add_ping,
    forget_locations,
    geography_point,
    learn_areas,
    list_areas,
    purge_old_counts,
    purge_old_locations,
    request_recompute,
    take_recompute_batch,
)
from push.repository.offers import (
    BATCH_SIZE,
    CUSTOMER_AUDIENCE,
    FAN_OUT,
    MEMBERS_AUDIENCE,
    NEARBY_AUDIENCE,
    DeliveryCounts,
    ReceivedOffer,
    add_offer,
    delivery_counts,
    explain,
    fan_out,
    get_offer,
    is_recipient,
    mark_opened,
    max_subscription_radius,
    received_by,
    set_offer_recipients,
)
from push.repository.outbox import (
    Claim,
    ClaimedDelivery,
    StaleBatch,
    claim_batch,
    expire_undelivered,
    finish_deliveries,
    get_outbox,
    renew_leases,
    requeue_stale_sending,
    reschedule_batch,
    schedule_retries,
    take_due_outbox,
)
from push.repository.subscriptions import (
    follow_merchant,
    get_subscription,
    put_subscription,
    unfollow_merchant,
)

__all__ = [
    "AreaRow",
    "BATCH_SIZE",
    "CUSTOMER_AUDIENCE",
    "Claim",
    "ClaimedDelivery",
    "DeliveryCounts",
    "FAN_OUT",
    "MEMBERS_AUDIENCE",
    "NEARBY_AUDIENCE",
    "StaleBatch",
    "add_offer",
    "add_ping",
    "claim_batch",
    "delete_device",
    "delete_devices_by_id",
    "delivery_counts",
    "devices_of_users",
    "expire_undelivered",
    "explain",
    "fan_out",
    "finish_deliveries",
    "follow_merchant",
    "forget_locations",
    "geography_point",
    "get_offer",
    "get_outbox",
    "get_subscription",
    "is_recipient",
    "learn_areas",
    "list_areas",
    "mark_opened",
    "ReceivedOffer",
    "received_by",
    "max_subscription_radius",
    "purge_old_counts",
    "purge_old_locations",
    "put_subscription",
    "renew_leases",
    "request_recompute",
    "requeue_stale_sending",
    "reschedule_batch",
    "schedule_retries",
    "set_offer_recipients",
    "take_due_outbox",
    "take_recompute_batch",
    "unfollow_merchant",
    "upsert_device",
]
