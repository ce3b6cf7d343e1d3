"""Coupon rules. Other packages call what is exported here (never the repository).

Split by concept: campaigns (design, lifecycle), stats, settings, shop_offers (what a shop
shows), claim (claims, bulk issue, paper coupons, wallet), redeem (counter lookup/redeem,
reversal), reserve (an order's coupon), audience (who may claim).
"""

from coupons.offer_line import offer_line_of_json
from coupons.repository.campaigns import best_offer_json
from coupons.repository.campaigns import claimable_offer_exists as claimable_offer_predicate
from coupons.repository.redemptions import RedemptionDayLine, redemption_lines
from coupons.service.audience import (
    AudienceResolver,
    register_audience_resolver,
    unregister_audience_resolver,
)
from coupons.service.campaigns import (
    campaign_merchant,
    change_status,
    create_campaign,
    is_published_flash_campaign_of,
    list_campaigns,
    update_campaign,
    view_campaign,
)
from coupons.service.claim import (
    campaign_summaries,
    claim,
    held_counts,
    holder_qr_payload,
    issue,
    issue_paper,
    usable_at,
    wallet,
)
from coupons.service.personal_data import export_personal_data
from coupons.service.redeem import (
    CounterLookup,
    RedemptionRef,
    is_coupon,
    lookup,
    lookup_other,
    redeem,
    redemption_merchant,
    redemption_of_user_at_shop,
    register_counter_lookup,
    reverse,
)
from coupons.service.reserve import (
    Reservation,
    redeem_order_coupon,
    release_order_coupon,
    reserve_for_order,
    reverse_order_redemption,
)
from coupons.service.settings import get_settings, put_settings
from coupons.service.shop_offers import claimable_at_shop, shops_with_claimable_offers
from coupons.service.stats import campaign_stats
from coupons.service.throttle import check_claim_rate

__all__ = [
    "RedemptionDayLine",
    "redemption_lines",
    "export_personal_data",
    "best_offer_json",
    "offer_line_of_json",
    "AudienceResolver",
    "CounterLookup",
    "RedemptionRef",
    "Reservation",
    "campaign_merchant",
    "campaign_stats",
    "change_status",
    "update_campaign",
    "check_claim_rate",
    "claim",
    "claimable_offer_predicate",
    "create_campaign",
    "get_settings",
    "holder_qr_payload",
    "is_published_flash_campaign_of",
    "issue",
    "issue_paper",
    "list_campaigns",
    "lookup",
    "is_coupon",
    "lookup_other",
    "register_counter_lookup",
    "put_settings",
    "redeem",
    "redeem_order_coupon",
    "release_order_coupon",
    "reserve_for_order",
    "reverse_order_redemption",
    "redemption_merchant",
    "redemption_of_user_at_shop",
    "register_audience_resolver",
    "reverse",
    "shops_with_claimable_offers",
    "unregister_audience_resolver",
    "view_campaign",
    "usable_at",
    "claimable_at_shop",
    "campaign_summaries",
    "held_counts",
    "wallet",
]
