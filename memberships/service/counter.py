"""Counter transactions: a clerk identifies the card (typed card number, a bound pre-printed
number, or the dynamic QR) and records a purchase (tier discount, then points), spends points
or stored value (PIN required), or uses a count card (次卡).

A transaction runs on the transaction's driver connection (core.lean `Statement`s): the
counter's lean route passes its connection, the ORM routes that start from a card at the
counter (the lookup, the counter sales) pass their session (`Db`); the card it loads is
a detached object that is never flushed, its programme and tier read-only views; everything it
writes is a statement of its own."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from accounts import service as accounts
from core.i18n import localised
from core.lean import Connection, Db, connection_of
from core.money import Money
from core.payments import Checkout
from core.settings import Settings
from customers import service as customers
from customers.service import record_activity
from memberships import cardnumbers, physical, rules, schemas
from memberships.repository.cards import CardContext, counter_context, lock_card, use_qr_token
from memberships.repository.physical import card_at_shop
from memberships.service.cards import card_extras, card_schema, count_pass_schema, read_qr_token
from memberships.service.counts import open_count_pass, use_count_pass
from memberships.service.errors import (
    CardNotFound,
    CurrencyMismatch,
    InsufficientBalance,
    QrUsed,
)
from memberships.service.ledger import entry_schema, maybe_upgrade, post_entry
from memberships.service.pins import check_pin
from memberships.service.topups import open_topup
from merchants import service as merchants


async def _identify(
    connection: Connection,
    settings: Settings,
    raw: str,
    now: datetime,
    *,
    staff_user_id: uuid.UUID,
    shop_id: uuid.UUID,
) -> tuple[CardContext, str | None, str | None, bool]:
    """The card, for a QR token the token id still to be consumed, the caller's role at the
    card's merchant and whether the shop is that merchant's (one round trip)."""
    number = cardnumbers.normalise_card_number(raw)
    checks: dict[str, Any] = {
        "staff_user_id": staff_user_id,
        "shop_id": shop_id,
        "staff_role": accounts.staff_role_expression,
        "shop_owned": merchants.shop_of_merchant_sql,
    }
    if number.isdigit():
        token_id = None
        if cardnumbers.is_valid_card_number(number) and physical.in_virtual_range(number):
            found = await counter_context(connection, card_number=number, **checks)
        elif physical.looks_physical(number):
            # a pre-printed number: only among the numbers of the counter's merchant
            card_id = await card_at_shop(
                connection, number, shop_id=shop_id, shop_owned=merchants.shop_of_merchant_sql
            )
            found = (
                await counter_context(connection, card_id=card_id, **checks) if card_id else None
            )
        else:
            raise CardNotFound(
                localised(
                    "没有这个卡号的会员卡，请检查数字", "No card has this number (check the digits)"
                )
            )
    else:
        claim = read_qr_token(settings, raw, now)
        found = await counter_context(connection, card_id=claim.card_id, **checks)
        token_id = claim.token_id
    if found is None:
        raise CardNotFound()
    ctx, role, shop_of_merchant = found
    return ctx, token_id, role, shop_of_merchant


async def card_at_counter(
    db: Db,
    settings: Settings,
    raw: str,
    now: datetime,
    *,
    staff_user_id: uuid.UUID,
    shop_id: uuid.UUID,
    use_token: bool = True,
) -> CardContext:
    """The card a clerk of the shop's merchant typed or scanned (a QR token is used up unless
    `use_token` is false: a look before charging leaves the QR for the charge).

    Staff of another merchant learn nothing about the card: the same 404 as an unknown one;
    a shop that is not the card's merchant's is the shop's 404."""
    connection = await connection_of(db)
    ctx, token_id, role, shop_of_merchant = await _identify(
        connection, settings, raw, now, staff_user_id=staff_user_id, shop_id=shop_id
    )
    if role is None:
        raise CardNotFound()
    if not shop_of_merchant:
        raise merchants.ShopNotFound()
    if (
        use_token
        and token_id is not None
        and not await use_qr_token(connection, token_id, ctx.card.id)
    ):
        raise QrUsed()
    return ctx


async def look_up_card(
    session: AsyncSession,
    *,
    settings: Settings,
    staff_user_id: uuid.UUID,
    data: schemas.CounterCardLookup,
    now: datetime,
) -> schemas.MemberCard:
    """What the clerk shows the member before charging a typed or scanned card: the holder's
    name, tier, points, balance and count passes. Nothing is written; a QR stays usable."""
    ctx = await card_at_counter(
        session,
        settings,
        data.card,
        now,
        staff_user_id=staff_user_id,
        shop_id=data.shop_id,
        use_token=False,
    )
    card = ctx.card
    holder = await customers.holder_customer(
        session, merchant_id=card.merchant_id, user_id=card.user_id, customer_id=card.customer_id
    )
    extras = await card_extras(session, [card.id], now)
    return schemas.MemberCard(
        customer_id=holder.id if holder else None,
        name=holder.name if holder else None,
        card=card_schema(card, ctx, extras=extras[card.id]),
    )


async def _sale(
    session: AsyncSession,
    checkout: Checkout,
    *,
    staff_user_id: uuid.UUID,
    card: str,
    shop_id: uuid.UUID,
) -> dict[str, Any]:
    """What a counter sale passes to `open_topup` / `open_count_pass`: the card the clerk
    typed or scanned, its holder as the buyer, and where and by whom it was sold (the
    callback's ledger entries carry both, so the sale lands in that shop's day close)."""
    ctx = await card_at_counter(
        session, checkout.settings, card, checkout.now, staff_user_id=staff_user_id, shop_id=shop_id
    )
    return {"ctx": ctx, "user_id": ctx.card.user_id, "shop_id": shop_id, "sold_by": staff_user_id}


async def sell_topup(
    session: AsyncSession,
    checkout: Checkout,
    *,
    staff_user_id: uuid.UUID,
    data: schemas.CounterTopupCreate,
) -> schemas.Topup:
    """A clerk sells a top-up: the member pays by the QR the answer carries; the card is
    credited when the callback says paid."""
    sale = await _sale(
        session, checkout, staff_user_id=staff_user_id, card=data.card, shop_id=data.shop_id
    )
    return await open_topup(session, checkout, amount=data.amount, **sale)


async def sell_count_pass(
    session: AsyncSession,
    checkout: Checkout,
    *,
    staff_user_id: uuid.UUID,
    data: schemas.CounterCountPassCreate,
) -> schemas.CountPass:
    """A clerk sells a count card (a product of the card's programme sold at this shop);
    the uses are credited when the callback says paid."""
    sale = await _sale(
        session, checkout, staff_user_id=staff_user_id, card=data.card, shop_id=data.shop_id
    )
    return await open_count_pass(session, checkout, product_id=data.product_id, **sale)


async def counter_transaction(
    db: Db,
    *,
    settings: Settings,
    redis: Redis,
    staff_user_id: uuid.UUID,
    data: schemas.CounterTransactionCreate,
    now: datetime,
) -> schemas.CounterTransaction:
    connection = await connection_of(db)
    ctx = await card_at_counter(
        connection, settings, data.card, now, staff_user_id=staff_user_id, shop_id=data.shop_id
    )
    card = ctx.card
    currency = card.currency
    if data.amount is not None and data.amount.currency != currency:
        raise CurrencyMismatch(
            localised(
                f"会员卡币种为 {currency}，金额币种为 {data.amount.currency}",
                f"The card holds {currency}, the amount is in {data.amount.currency}",
            ),
            loc=["body", "amount", "currency"],
        )

    discount: int | None = None
    count_pass: schemas.CountPass | None = None
    if data.kind == "count_use":
        entry, used = await use_count_pass(
            connection, ctx=ctx, data=data, staff_user_id=staff_user_id, now=now
        )
        count_pass = count_pass_schema(used, now)
        spend = 0
    elif data.kind == "purchase":
        assert data.amount is not None
        paid, discount = rules.discounted(data.amount.amount, ctx.tier.discount_percent)
        earned = rules.points_earned(paid, ctx.tier.earn_points_per_unit)
        entry, totals = await post_entry(
            connection,
            card=card,
            kind="earn",
            rule_version=ctx.program.rule_version,
            points=earned,
            spend=paid,
            amount=data.amount.amount,
            paid_amount=paid,
            shop_id=data.shop_id,
            staff_user_id=staff_user_id,
            note=data.note,
        )
        spend = paid
        ctx = await maybe_upgrade(connection, ctx=ctx, totals=totals, now=now)
    elif data.kind == "spend_points":
        assert data.points is not None
        await check_pin(settings, redis, card=card, pin=data.pin, now=now)
        value = rules.points_value(data.points, ctx.program.redeem_points_per_unit)
        entry, _ = await post_entry(
            connection,
            card=card,
            kind="spend_points",
            rule_version=ctx.program.rule_version,
            points=-data.points,
            amount=value,
            shop_id=data.shop_id,
            staff_user_id=staff_user_id,
            note=data.note,
        )
        spend = 0
    else:
        assert data.amount is not None
        await check_pin(settings, redis, card=card, pin=data.pin, now=now)
        amount = data.amount.amount
        # the row lock makes the purse split and the update one decision; the conditional
        # update in post_entry would still refuse an overdraft on its own
        held = await lock_card(connection, card.id)
        if held is None:
            raise CardNotFound()
        if held.principal + held.bonus < amount:
            raise InsufficientBalance()
        from_principal, from_bonus = rules.split_balance_spend(
            amount, held.principal, held.bonus, ctx.program.bonus_spend_rule
        )
        entry, _ = await post_entry(
            connection,
            card=card,
            kind="spend_balance",
            rule_version=ctx.program.rule_version,
            principal=-from_principal,
            bonus=-from_bonus,
            spend=amount,
            amount=amount,
            paid_amount=amount,
            shop_id=data.shop_id,
            staff_user_id=staff_user_id,
            note=data.note,
        )
        spend = amount
    await record_activity(
        connection,
        merchant_id=card.merchant_id,
        user_id=card.user_id,
        customer_id=card.customer_id,
        kind="card_transaction",
        at=now,
        spend=spend,
        currency=currency,
        reference_id=entry.id,
        tier=ctx.tier.code,  # after a possible upgrade by this purchase
    )
    extras = None
    if count_pass is not None:  # the clerk shows the member what is left on every pass
        extras = (await card_extras(connection, [card.id], now))[card.id]
    return schemas.CounterTransaction(
        entry=entry_schema(entry),
        card=card_schema(card, ctx, extras=extras),
        discount=Money.of(discount, currency) if discount is not None else None,
        count_pass=count_pass,
    )
