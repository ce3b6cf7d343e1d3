"""Every query of the coupons package, one module per concept, re-exported here.

The guards are single statements: a conditional UPDATE of the campaign's `handed_out` counter,
a conditional upsert of the per-user counter, and a conditional UPDATE of the coupon's status
feeding the redemption INSERT in the same statement.

- `campaigns`: campaigns, their `handed_out` counter and the claimable predicate;
- `claim_counters`: the per-user claim counter;
- `coupons`: the claim insert, wallet, paper sheets and order reservations;
- `counter`: the counter's lean statements (built once, cached): lookup, status, redeem;
- `rows`: the detached coupon and campaign columns and the redemption row they share;
- `redemptions`: lookups and reversals;
- `stats`: campaign totals and per-day counts;
- `settings`: the merchant's coupon settings.
"""

from __future__ import annotations

from coupons.repository.campaigns import (
    CampaignRepository,
    claim_deadline_open,
    claimable_offer_exists,
)
from coupons.repository.claim_counters import ClaimCounterRepository
from coupons.repository.counter import (
    RoleSql,
    ShopSql,
    counter_lookup,
    coupon_status,
    live_redemption,
    redeem,
)
from coupons.repository.coupons import CouponRepository
from coupons.repository.redemptions import RedemptionRepository
from coupons.repository.rows import RedemptionRow
from coupons.repository.settings import SettingsRepository
from coupons.repository.stats import StatsRepository, Totals

__all__ = [
    "CampaignRepository",
    "ClaimCounterRepository",
    "CouponRepository",
    "RedemptionRepository",
    "RedemptionRow",
    "RoleSql",
    "SettingsRepository",
    "ShopSql",
    "StatsRepository",
    "Totals",
    "claim_deadline_open",
    "claimable_offer_exists",
    "counter_lookup",
    "coupon_status",
    "live_redemption",
    "redeem",
]
