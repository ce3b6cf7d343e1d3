"""Every query of the push package, one module per concept, re-exported here.

- `devices`: registration tokens;
- `subscriptions`: preferences and followed merchants;
- `locations`: pings, activity areas and their retention;
- `offers`: flash offers, their audiences and the fan-out statement;
- `outbox`: due batches, claimed deliveries, leases, results and retries.
"""

from __future__ import annotations

from push.repository.devices import (
    DeviceRepository,
)
from push.repository.locations import (
    AreaRow,
    LocationRepository,
    geography_point,
)
from push.repository.offers import (
    BATCH_SIZE,
    CUSTOMER_AUDIENCE,
    FAN_OUT,
    MEMBERS_AUDIENCE,
    NEARBY_AUDIENCE,
    DeliveryCounts,
    OfferRepository,
)
from push.repository.outbox import (
    Claim,
    ClaimedDelivery,
    OutboxRepository,
    StaleBatch,
)
from push.repository.subscriptions import (
    SubscriptionRepository,
)

__all__ = [
    "DeviceRepository",
    "LocationRepository",
    "OfferRepository",
    "OutboxRepository",
    "SubscriptionRepository",
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
    "geography_point",
]
