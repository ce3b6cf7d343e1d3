"""Stored-value top-ups through a payment provider, bonus rules, and refunds of what is left.

Principal (what the customer paid) and bonus (what the merchant added, e.g. 充500送50) are
separate purses; a refund returns the unused principal only and the bonus lapses with it.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.service.errors import role_needed
from core import payment_records
from core.i18n import localised
from core.lean import connection_of
from core.money import Money
from core.payments import (
    CallbackEvent,
    Checkout,
    PaymentIntent,
    PaymentProvider,
    instructions_schema,
)
from memberships import rules, schemas
from memberships.models import Topup
from memberships.repository.cards import CardContext, card_context, lock_card
from memberships.repository.topups import TopupRepository
from memberships.service.cards import access_card, card_schema
from memberships.service.errors import (
    CardNotFound,
    CurrencyMismatch,
    TopupNotFound,
)
from memberships.service.ledger import entry_schema, post_entry

log = structlog.get_logger("corner.memberships")
# payment references of top-ups (count passes: `cnt_`, orders: `ord_`); the callback
# dispatcher's fallback owner is top-ups, so older bare-hex references still arrive here
TOPUP_PREFIX = "tu_"


def topup_schema(topup: Topup, intent: PaymentIntent | None = None) -> schemas.Topup:
    return schemas.Topup(
        id=topup.id,
        card_id=topup.card_id,
        amount=Money.of(topup.amount, topup.currency),
        bonus=Money.of(topup.bonus, topup.currency),
        status=topup.status,
        payment=instructions_schema(intent)
        if intent is not None
        else schemas.PaymentInstructions(
            provider=topup.provider, reference=topup.provider_reference
        ),
        rule_version=topup.rule_version,
        created_at=topup.created_at,
        completed_at=topup.completed_at,
    )


async def start_topup(
    session: AsyncSession,
    checkout: Checkout,
    *,
    card_id: uuid.UUID,
    user_id: uuid.UUID,
    data: schemas.TopupCreate,
) -> schemas.Topup:
    """The holder tops up their card: a pending payment; the card is credited on callback."""
    ctx = (await access_card(session, card_id=card_id, user_id=user_id, holder_only=True)).ctx
    return await open_topup(session, checkout, ctx=ctx, amount=data.amount, user_id=user_id)


async def open_topup(
    session: AsyncSession,
    checkout: Checkout,
    *,
    ctx: CardContext,
    amount: Money,
    user_id: uuid.UUID | None,
    shop_id: uuid.UUID | None = None,
    sold_by: uuid.UUID | None = None,
) -> schemas.Topup:
    """A pending top-up of the card and its payment, by the holder (`user_id`) or sold by a
    clerk at a shop's counter (`shop_id`, `sold_by`); the bonus is the rule in force now."""
    if amount.currency != ctx.card.currency:
        raise CurrencyMismatch(
            localised(f"会员卡币种为 {ctx.card.currency}", f"The card holds {ctx.card.currency}"),
            loc=["body", "amount", "currency"],
        )
    bonus = rules.topup_bonus(
        amount.amount,
        [(r["min_amount"], r["bonus"]) for r in ctx.program.topup_bonuses],
    )
    topup_id = uuid.uuid4()
    intent = await payment_records.start_payment(
        session,
        checkout,
        kind="topup",
        subject_id=topup_id,
        merchant_id=ctx.card.merchant_id,
        prefix=TOPUP_PREFIX,
        amount=amount.amount,
        currency=amount.currency,
        description=f"{ctx.program.name} top-up",
    )
    topup = await TopupRepository(session).add(
        Topup(
            id=topup_id,
            card_id=ctx.card.id,
            merchant_id=ctx.card.merchant_id,
            user_id=user_id,
            shop_id=shop_id,
            sold_by=sold_by,
            amount=amount.amount,
            bonus=bonus,
            currency=ctx.card.currency,
            status="pending",
            provider=checkout.provider.name,
            provider_reference=intent.reference,
            rule_version=ctx.program.rule_version,
        )
    )
    return topup_schema(topup, intent)


async def apply_topup_event(
    session: AsyncSession,
    provider: PaymentProvider,
    event: CallbackEvent,
    now: datetime,
    *,
    view: bool = True,
) -> schemas.Topup:
    """A verified callback about a top-up (core.payments dispatches it here)."""
    topups = TopupRepository(session)
    found = await topups.by_reference(event.reference)
    if found is None or found.provider != provider.name:
        raise TopupNotFound()
    # the conditional UPDATE lets exactly one of concurrent identical callbacks through
    outcome = "succeeded" if event.status == "succeeded" else "failed"
    topup = await topups.complete(found.id, outcome, now)
    if topup is None:  # already decided (perhaps by a concurrent delivery): report that state
        current = await topups.by_reference(event.reference)
        assert current is not None
        return topup_schema(current)
    if topup.status == "succeeded":
        ctx = await card_context(await connection_of(session), topup.card_id)
        if ctx is None:
            raise CardNotFound()
        # the bonus was decided by the rules in force when the top-up started: both entries
        # name that version
        version = topup.rule_version
        await post_entry(
            session,
            card=ctx.card,
            kind="topup",
            rule_version=version,
            principal=topup.amount,
            topup_id=topup.id,
            shop_id=topup.shop_id,
            staff_user_id=topup.sold_by,
        )
        if topup.bonus:
            await post_entry(
                session,
                card=ctx.card,
                kind="bonus",
                rule_version=version,
                bonus=topup.bonus,
                topup_id=topup.id,
                shop_id=topup.shop_id,
                staff_user_id=topup.sold_by,
            )
    return topup_schema(topup)


async def refund_stored_value(
    session: AsyncSession,
    *,
    card_id: uuid.UUID,
    user_id: uuid.UUID,
    now: datetime,
) -> schemas.Refund:
    """A manager refunds the unused stored value: the principal goes back, the bonus lapses."""
    access = await access_card(session, card_id=card_id, user_id=user_id, staff_only=True)
    if access.staff_role not in ("manager", "owner"):
        raise role_needed("manager")
    card = access.ctx.card
    held = await lock_card(await connection_of(session), card.id)
    if held is None:
        raise CardNotFound()
    if held.principal == 0 and held.bonus == 0:
        return schemas.Refund(
            card=card_schema(card, access.ctx), entry=None, refunded=Money.of(0, card.currency)
        )
    refund_nos = await _refund_principal(session, card_id=card.id, amount=held.principal)
    entry, _ = await post_entry(
        session,
        card=card,
        kind="refund",
        rule_version=access.ctx.program.rule_version,
        principal=-held.principal,
        bonus=-held.bonus,
        staff_user_id=user_id,
        note=f"refund {' '.join(refund_nos)}"[:255] if refund_nos else "refund",
    )
    return schemas.Refund(
        card=card_schema(card, access.ctx),
        entry=entry_schema(entry),
        refunded=Money.of(held.principal, card.currency),
    )


async def _refund_principal(session: AsyncSession, *, card_id: uuid.UUID, amount: int) -> list[str]:
    """Send `amount` back through the payments of the card's top-ups, newest first (each
    refund at most what is left of its payment); the provider hears of it after the commit."""
    refund_nos: list[str] = []
    left = amount
    references = await TopupRepository(session).paid_references(card_id)
    for reference, available in await payment_records.refundable(session, references):
        if left == 0:
            break
        part = min(left, available)
        refund_no = await payment_records.request_refund(
            session, reference=reference, amount=part, reason="stored value refund"
        )
        if refund_no is not None:
            refund_nos.append(refund_no)
            left -= part
    if left:  # opening balances (imported member books) were not paid through a provider
        log.warning("stored_value_refunded_outside_provider", card_id=str(card_id), amount=left)
    return refund_nos
