"""Where packages that must not import each other at module level are plugged together.

- nearby `has_offers` (merchants) asks coupons whether a shop has a claimable campaign, and
  each nearby item's `best_offer` is the best such campaign (both inside nearby's statement);
- verified reviews (merchants) ask coupons, memberships and orders whether the referenced
  redemption, card transaction or order is the reviewer's own consumption at the shop;
- coupon audiences of kind `tiers` (memberships) and `segment` (customers);
- flash-offer audiences of kind `tiers` (push asks memberships for the tier members' SELECT);
- the counter's lookup (coupons) recognises order codes and QRs (orders);
- a new account takes over the customer records and cards merchants made with its phone;
- a removed staff member's open follow-up tasks and complaints go to the managers;
- payment provider callbacks: `ord_…` references to orders, `cnt_…` to count-card purchases,
  anything else to card top-ups.

Called once by the app factory (and by `corner worker`); registering twice is harmless.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

from sqlalchemy import literal_column
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

import core.providers  # noqa: F401  (registers the real payment and SMS providers)
from accounts import service as accounts
from core import payments
from core.lean import Db
from coupons import service as coupons
from customers import service as customers
from memberships import service as memberships
from merchants import service as merchants
from orders import service as orders
from push import service as push


def _rendered(expression: Any) -> str:
    return str(
        expression.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
    )


def claimable_offer_sql() -> str:
    """The coupons predicate rendered over the nearby query's shop alias `s` and `:now`."""
    return _rendered(
        coupons.claimable_offer_predicate(
            literal_column("s.id"), literal_column("s.merchant_id"), literal_column(":now")
        )
    )


def best_offer_sql() -> str:
    """The coupons best-offer expression over a shop alias written `{t}` (the nearby
    statement fills it in) and `:now`."""
    return _rendered(
        coupons.best_offer_json(
            literal_column("{t}.id"), literal_column("{t}.merchant_id"), literal_column(":now")
        )
    )


async def _in_tiers(
    db: Db, merchant_id: uuid.UUID, audience: dict[str, Any], user_id: uuid.UUID
) -> bool:
    return bool(await _tier_members(db, merchant_id, audience, user_id))


async def _tier_members(
    db: Db,
    merchant_id: uuid.UUID,
    audience: dict[str, Any],
    user_id: uuid.UUID | None = None,
) -> list[uuid.UUID]:
    program_id = audience.get("program_id")
    return await memberships.tier_members(
        db,
        merchant_id=merchant_id,
        tier_codes=list(audience["tier_codes"]),
        program_id=uuid.UUID(str(program_id)) if program_id else None,
        user_id=user_id,
    )


async def _in_segment(
    db: Db, merchant_id: uuid.UUID, audience: dict[str, Any], user_id: uuid.UUID
) -> bool:
    return await customers.segment_contains(
        db,
        merchant_id=merchant_id,
        segment_id=uuid.UUID(str(audience["segment_id"])),
        user_id=user_id,
    )


async def _segment_members(
    session: AsyncSession, merchant_id: uuid.UUID, audience: dict[str, Any]
) -> list[uuid.UUID]:
    return await customers.segment_user_ids(
        session, merchant_id=merchant_id, segment_id=uuid.UUID(str(audience["segment_id"]))
    )


async def _own_redemption(
    session: AsyncSession, redemption_id: uuid.UUID, user_id: uuid.UUID, shop_id: uuid.UUID
) -> bool:
    found = await coupons.redemption_of_user_at_shop(
        session, redemption_id=redemption_id, user_id=user_id, shop_id=shop_id
    )
    return found is not None


async def _own_card_transaction(
    session: AsyncSession, entry_id: uuid.UUID, user_id: uuid.UUID, shop_id: uuid.UUID
) -> bool:
    return await memberships.is_own_card_transaction(
        session, entry_id=entry_id, user_id=user_id, shop_id=shop_id
    )


async def _own_order(
    session: AsyncSession, order_id: uuid.UUID, user_id: uuid.UUID, shop_id: uuid.UUID
) -> bool:
    return await orders.is_own_consumed_order(
        session, order_id=order_id, user_id=user_id, shop_id=shop_id
    )


def wire_packages() -> None:
    merchants.register_consumption_verifier("redemption", _own_redemption)
    merchants.register_consumption_verifier("card_transaction", _own_card_transaction)
    merchants.register_consumption_verifier("order", _own_order)
    merchants.register_offer_predicate(claimable_offer_sql())
    # CORNER_BENCH_NEARBY_BEST_OFFER=0 (bench/nearby.py --best-offer off only): nearby without
    # `best_offer`, to measure what the line costs; never set in production
    if os.environ.get("CORNER_BENCH_NEARBY_BEST_OFFER", "1") != "0":
        merchants.register_best_offer(best_offer_sql(), coupons.offer_line_of_json)
    coupons.register_audience_resolver(
        "tiers", coupons.AudienceResolver(contains=_in_tiers, members=_tier_members)
    )
    coupons.register_audience_resolver(
        "segment", coupons.AudienceResolver(contains=_in_segment, members=_segment_members)
    )
    push.register_tier_audience(memberships.tier_members_select)
    payments.register_callback_handler("", memberships.apply_topup_event)
    payments.register_callback_handler(
        orders.REFERENCE_PREFIX, orders.apply_payment_event, fast=orders.apply_payment_fast
    )
    payments.register_callback_handler(
        memberships.COUNT_PASS_PREFIX, memberships.apply_count_pass_event
    )
    coupons.register_counter_lookup("order", orders.counter_lookup)
    # customers (and their cards) staff added by phone join the account that proves the phone
    # by an SMS code (never a password registration alone: anyone can type a number)
    accounts.register_phone_verified_hook(memberships.link_new_user)
    # a staff member who leaves hands their open follow-ups and complaints to the managers
    accounts.register_staff_removed_hook(customers.hand_over_work)
