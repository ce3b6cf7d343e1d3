"""Count cards (次卡): a merchant's products ("10 haircuts for the price of 8"), the member's
purchase of a pass through the payment provider, and each use at the counter.

A pass's `uses_left` changes only together with a ledger entry carrying `uses_delta` and
`uses_after` (purchase +N, use −1, reversal of a use +1), so the ledger's sum of a pass's
`uses_delta` always equals its `uses_left`. Every path locks the pass's row before the card's.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from core import payment_records
from core.errors import DomainError, InvalidInput
from core.i18n import localised
from core.lean import Db, connection_of
from core.money import Money
from core.pagination import page_from_rows
from core.payments import CallbackEvent, Checkout, PaymentProvider, instructions_schema
from customers.service import record_activity
from memberships import schemas
from memberships.models import CountPass, CountProduct, LedgerEntry
from memberships.repository.cards import CardContext, card_context
from memberships.repository.counts import (
    CountRepository,
    candidates,
    get_pass,
    passes_of_cards,
    passes_of_product,
    use_pass,
)
from memberships.repository.programs import ProgramRepository
from memberships.service.cards import access_card, count_pass_schema
from memberships.service.cursors import time_id_cursor
from memberships.service.errors import (
    CardNotFound,
    CountPassExhausted,
    CountPassExpired,
    CountPassNotFound,
    CountPassShopExcluded,
    CountProductInactive,
    CountProductNotFound,
    CurrencyMismatch,
    ProgramNotFound,
)
from memberships.service.ledger import maybe_upgrade, post_entry
from merchants import service as merchants

# payment references of count-card purchases (top-ups use a bare hex id; orders `ord_`)
COUNT_PASS_PREFIX = "cnt_"


def product_schema(product: CountProduct) -> schemas.CountProduct:
    return schemas.CountProduct(
        id=product.id,
        program_id=product.program_id,
        name=product.name,
        uses=product.uses,
        price=Money.of(product.price, product.currency),
        validity_days=product.validity_days,
        shop_ids=product.shop_ids,
        active=product.active,
        created_at=product.created_at,
    )


async def create_count_product(
    session: AsyncSession,
    *,
    program_id: uuid.UUID,
    merchant_id: uuid.UUID,
    data: schemas.CountProductCreate,
) -> schemas.CountProduct:
    """A manager defines a count card for the program (the route checked the role)."""
    program = await ProgramRepository(session).get(program_id)
    if program is None or program.merchant_id != merchant_id:
        raise ProgramNotFound()
    if data.price.currency != program.currency:
        raise CurrencyMismatch(
            localised(
                f"会员计划币种为 {program.currency}", f"The programme is in {program.currency}"
            ),
            loc=["body", "price", "currency"],
        )
    shop_ids = list(dict.fromkeys(data.shop_ids)) if data.shop_ids else None
    if shop_ids:
        foreign = await merchants.foreign_shop_ids(
            session, merchant_id=merchant_id, shop_ids=shop_ids
        )
        if foreign:
            raise InvalidInput(
                localised(
                    f"这些门店不属于本商户：{'、'.join(sorted(map(str, foreign)))}",
                    f"Not shops of this merchant: {', '.join(sorted(map(str, foreign)))}",
                ),
                loc=["body", "shop_ids"],
            )
    product = await CountRepository(session).add_product(
        CountProduct(
            program_id=program.id,
            merchant_id=merchant_id,
            name=data.name,
            uses=data.uses,
            price=data.price.amount,
            currency=program.currency,
            validity_days=data.validity_days,
            shop_ids=shop_ids,
            active=True,
        )
    )
    return product_schema(product)


async def set_count_product_active(
    session: AsyncSession, *, program_id: uuid.UUID, product_id: uuid.UUID, active: bool
) -> schemas.CountProduct:
    """Stop (or resume) selling a count card; passes already sold keep working."""
    product = await CountRepository(session).set_product_active(
        product_id, program_id=program_id, active=active
    )
    if product is None:
        raise CountProductNotFound()
    return product_schema(product)


async def list_count_products(
    session: AsyncSession, *, program_id: uuid.UUID, cursor: str | None, limit: int
) -> schemas.Page[schemas.CountProduct]:
    """What the program sells (public, like the program itself)."""
    if await ProgramRepository(session).get(program_id) is None:
        raise ProgramNotFound()
    rows = await CountRepository(session).products(
        program_id, time_id_cursor(cursor), limit, active_only=True
    )
    items, next_cursor = page_from_rows(
        rows, limit, lambda p: {"t": p.created_at.isoformat(), "id": str(p.id)}
    )
    return schemas.Page[schemas.CountProduct](
        items=[product_schema(p) for p in items], next_cursor=next_cursor
    )


async def buy_count_pass(
    session: AsyncSession,
    checkout: Checkout,
    *,
    card_id: uuid.UUID,
    user_id: uuid.UUID,
    data: schemas.CountPassCreate,
) -> schemas.CountPass:
    """The holder buys a count card onto their card: a pending pass and a payment; the uses
    are credited when the provider's signed callback says it was paid."""
    ctx = (await access_card(session, card_id=card_id, user_id=user_id, holder_only=True)).ctx
    return await open_count_pass(
        session, checkout, ctx=ctx, product_id=data.product_id, user_id=user_id
    )


async def open_count_pass(
    session: AsyncSession,
    checkout: Checkout,
    *,
    ctx: CardContext,
    product_id: uuid.UUID,
    user_id: uuid.UUID | None,
    shop_id: uuid.UUID | None = None,
    sold_by: uuid.UUID | None = None,
) -> schemas.CountPass:
    """A pending pass of the programme's product and its payment, bought by the holder
    (`user_id`) or sold by a clerk at a shop's counter (`shop_id`, `sold_by`)."""
    repo = CountRepository(session)
    product = await repo.get_product(product_id)
    if product is None or product.program_id != ctx.card.program_id:
        raise CountProductNotFound()
    if not product.active:
        raise CountProductInactive()
    if shop_id is not None and product.shop_ids and shop_id not in product.shop_ids:
        raise CountProductNotFound(
            localised("本门店不出售该次卡", "This count card is not sold at this shop")
        )
    pass_id = uuid.uuid4()
    intent = await payment_records.start_payment(
        session,
        checkout,
        kind="count_pass",
        subject_id=pass_id,
        merchant_id=ctx.card.merchant_id,
        prefix=COUNT_PASS_PREFIX,
        amount=product.price,
        currency=product.currency,
        description=f"{ctx.program.name} {product.name}",
    )
    created = await repo.add_pass(
        CountPass(
            id=pass_id,
            card_id=ctx.card.id,
            merchant_id=ctx.card.merchant_id,
            user_id=user_id,
            shop_id=shop_id,
            sold_by=sold_by,
            product_id=product.id,
            name=product.name,
            uses_total=product.uses,
            uses_left=0,
            price=product.price,
            currency=product.currency,
            validity_days=product.validity_days,
            shop_ids=product.shop_ids,
            status="pending",
            provider=checkout.provider.name,
            provider_reference=intent.reference,
        )
    )
    return count_pass_schema(created, checkout.now, instructions_schema(intent))


async def card_count_passes(
    session: AsyncSession, *, card_id: uuid.UUID, user_id: uuid.UUID, now: datetime
) -> list[schemas.CountPass]:
    """Every pass of the card, pending and failed purchases too (holder or staff)."""
    await access_card(session, card_id=card_id, user_id=user_id)
    passes = await passes_of_cards(await connection_of(session), [card_id], paid_only=False)
    return [count_pass_schema(p, now) for p in passes[card_id]]


async def apply_count_pass_event(
    session: AsyncSession,
    provider: PaymentProvider,
    event: CallbackEvent,
    now: datetime,
    *,
    view: bool = True,
) -> schemas.CountPass:
    """A verified provider callback about a count-card purchase (core.payments dispatches
    `cnt_…` references here): applied once, a replay answers the current state."""
    repo = CountRepository(session)
    found = await repo.pass_by_reference(event.reference)
    if found is None or found.provider != provider.name:
        raise CountPassNotFound()
    paid = event.status == "succeeded"
    expires_at = now + timedelta(days=found.validity_days) if found.validity_days else None
    done = await repo.complete(found.id, paid=paid, at=now, expires_at=expires_at)
    if done is None:  # decided before (perhaps by a concurrent delivery)
        current = await repo.pass_by_reference(event.reference)
        assert current is not None
        return count_pass_schema(current, now)
    if paid:
        ctx = await card_context(await connection_of(session), done.card_id)
        if ctx is None:
            raise CardNotFound()
        entry, totals = await post_entry(
            session,
            card=ctx.card,
            kind="count_purchase",
            rule_version=ctx.program.rule_version,
            spend=done.price,  # money paid to the merchant: counts toward tier upgrades
            amount=done.price,
            paid_amount=done.price,
            count_pass_id=done.id,
            uses_delta=done.uses_total,
            uses_after=done.uses_left,
            note=done.name,
            shop_id=done.shop_id,
            staff_user_id=done.sold_by,
        )
        ctx = await maybe_upgrade(session, ctx=ctx, totals=totals, now=now)
        await record_activity(
            session,
            merchant_id=done.merchant_id,
            user_id=ctx.card.user_id,
            customer_id=None if ctx.card.user_id else ctx.card.customer_id,
            kind="card_transaction",
            at=now,
            spend=done.price,
            currency=done.currency,
            visit=done.sold_by is not None,  # sold at the counter: the member came in
            reference_id=entry.id,
            tier=ctx.tier.code,
        )
    return count_pass_schema(done, now)


def _refusal(passes: list[CountPass], now: datetime) -> DomainError:
    """Why none of these passes (the card's, of the asked pass or product) could be used."""
    paid = [p for p in passes if p.status == "active"]
    if not paid:
        return CountPassNotFound()
    live = [p for p in paid if p.expires_at is None or p.expires_at > now]
    if not live:
        return CountPassExpired()
    if not any(p.uses_left > 0 for p in live):
        return CountPassExhausted()
    return CountPassShopExcluded()


async def use_count_pass(
    db: Db,
    *,
    ctx: CardContext,
    data: schemas.CounterTransactionCreate,
    staff_user_id: uuid.UUID,
    now: datetime,
) -> tuple[LedgerEntry, CountPass]:
    """One use at the counter: the conditional UPDATE of the pass, then the ledger entry."""
    connection = await connection_of(db)
    card_id, shop_id = ctx.card.id, data.shop_id
    used: CountPass | None = None
    if data.pass_id is not None:
        used = await use_pass(connection, data.pass_id, card_id=card_id, shop_id=shop_id, now=now)
        if used is None:
            found = await get_pass(connection, data.pass_id)
            raise _refusal([found] if found and found.card_id == card_id else [], now)
    else:
        assert data.count_product_id is not None
        # another clerk may take the last use of a candidate between the read and the
        # UPDATE: then the next candidate is tried
        for candidate in await candidates(
            connection,
            card_id=card_id,
            product_id=data.count_product_id,
            shop_id=shop_id,
            now=now,
        ):
            used = await use_pass(connection, candidate, card_id=card_id, shop_id=shop_id, now=now)
            if used is not None:
                break
        if used is None:
            passes = await passes_of_product(connection, card_id, data.count_product_id)
            raise _refusal(passes, now)
    entry, _ = await post_entry(
        connection,
        card=ctx.card,
        kind="count_use",
        rule_version=ctx.program.rule_version,
        shop_id=shop_id,
        staff_user_id=staff_user_id,
        count_pass_id=used.id,
        uses_delta=-1,
        uses_after=used.uses_left,
        note=data.note or used.name,
    )
    return entry, used
