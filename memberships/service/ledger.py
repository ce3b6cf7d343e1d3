"""The card ledger: every change of points and stored value is one appended entry.

`post_entry` is the only way totals change: one conditional UPDATE of the card (refused if a
total would go negative; it also takes the row lock, ordering the card's entries) and one
INSERT of the entry with the totals after it, in the caller's transaction. Each entry names
the programme rule version it was computed with (`rule_version`): the caller passes the version
it read together with the rules it applied (the card context's programme row), never a later
read, so a transaction racing a rule edit keeps to one version throughout.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from accounts import service as accounts
from accounts.service.errors import role_needed
from core.database import mirror_database
from core.i18n import localised
from core.lean import Db, connection_of
from core.money import Money
from core.pagination import encode_cursor
from memberships import rules, schemas
from memberships.models import Card, LedgerEntry
from memberships.repository.cards import (
    CardContext,
    Totals,
    card_context,
    post_totals,
    spend_since,
)
from memberships.repository.counts import CountRepository
from memberships.repository.ledger import LedgerRepository
from memberships.service.cards import access_card, card_schema, months_ago
from memberships.service.cursors import seq_cursor
from memberships.service.errors import (
    AlreadyReversed,
    CardNotFound,
    InsufficientBalance,
    InsufficientPoints,
    NotReversible,
    TransactionNotFound,
)
from memberships.service.programs import rule_version_tiers
from memberships.service.tiers import move_card_tier


async def give_back_use(session: AsyncSession, *, pass_id: uuid.UUID) -> int:
    """One use back on a pass (a reversed count_use): its uses left after."""
    given = await CountRepository(session).give_back(pass_id)
    if given is None:  # uses_left == uses_total: cannot happen while the use is unreversed
        raise NotReversible(
            localised("该次卡的次数已是全部次数", "The count card already has all its uses")
        )
    return given.uses_left


REVERSIBLE_KINDS = frozenset({"earn", "spend_points", "spend_balance", "count_use"})


async def post_entry(
    db: Db,
    *,
    card: Card,
    kind: str,
    rule_version: int,
    points: int = 0,
    principal: int = 0,
    bonus: int = 0,
    spend: int = 0,
    amount: int | None = None,
    paid_amount: int | None = None,
    shop_id: uuid.UUID | None = None,
    staff_user_id: uuid.UUID | None = None,
    reverses_entry_id: uuid.UUID | None = None,
    topup_id: uuid.UUID | None = None,
    count_pass_id: uuid.UUID | None = None,
    uses_delta: int = 0,
    uses_after: int | None = None,
    note: str | None = None,
) -> tuple[LedgerEntry, Totals]:
    # the conditional card UPDATE and the entry INSERT are one statement (one round trip)
    posted = await post_totals(
        await connection_of(db),
        {
            "card_id": card.id,
            "merchant_id": card.merchant_id,
            "kind": kind,
            "points_delta": points,
            "principal_delta": principal,
            "bonus_delta": bonus,
            "currency": card.currency,
            "amount": amount,
            "paid_amount": paid_amount,
            "spend_delta": spend,
            "shop_id": shop_id,
            "staff_user_id": staff_user_id,
            "reverses_entry_id": reverses_entry_id,
            "topup_id": topup_id,
            "count_pass_id": count_pass_id,
            "uses_delta": uses_delta,
            "uses_after": uses_after,
            "note": note,
            "rule_version": rule_version,
        },
        points=points,
        principal=principal,
        bonus=bonus,
        spend=spend,
    )
    if posted is None:
        raise InsufficientPoints() if points < 0 else InsufficientBalance()
    entry, totals = posted
    mirror_database(
        card,
        points=totals.points,
        principal=totals.principal,
        bonus=totals.bonus,
        lifetime_spend=totals.lifetime_spend,
    )
    return entry, totals


def entry_schema(entry: LedgerEntry) -> schemas.LedgerEntry:
    currency = entry.currency
    return schemas.LedgerEntry(
        id=entry.id,
        card_id=entry.card_id,
        kind=entry.kind,
        points_delta=entry.points_delta,
        balance_delta=entry.principal_delta + entry.bonus_delta,
        principal_delta=entry.principal_delta,
        bonus_delta=entry.bonus_delta,
        points_after=entry.points_after,
        balance_after=entry.principal_after + entry.bonus_after,
        principal_after=entry.principal_after,
        bonus_after=entry.bonus_after,
        currency=currency,
        amount=Money.of(entry.amount, currency) if entry.amount is not None else None,
        paid=Money.of(entry.paid_amount, currency) if entry.paid_amount is not None else None,
        shop_id=entry.shop_id,
        staff_user_id=entry.staff_user_id,
        reverses_entry_id=entry.reverses_entry_id,
        topup_id=entry.topup_id,
        count_pass_id=entry.count_pass_id,
        uses_delta=entry.uses_delta,
        uses_after=entry.uses_after,
        note=entry.note,
        rule_version=entry.rule_version,
        created_at=entry.created_at,
    )


async def maybe_upgrade(db: Db, *, ctx: CardContext, totals: Totals, now: datetime) -> CardContext:
    """Move the card up a tier when its 12-month spend reached a higher tier's threshold,
    by the thresholds of the rule version the transaction read (`ctx.program.rule_version`)."""
    # lifetime spend bounds the 12-month spend: most purchases stop here without a sum
    if ctx.next_threshold is None or totals.lifetime_spend < ctx.next_threshold:
        return ctx
    connection = await connection_of(db)
    spend = (await spend_since(connection, [ctx.card.id], months_ago(now, 12)))[ctx.card.id]
    if spend < ctx.next_threshold:
        return ctx
    version_tiers = await rule_version_tiers(
        connection, program_id=ctx.program.id, version=ctx.program.rule_version
    )
    # ctx.tier was read in the same statement as ctx.program: it is of that version too
    target = rules.tier_after_spend(version_tiers, ctx.tier.rank, spend)
    if target is None:
        return ctx
    # the card row is locked by the purchase's own UPDATE
    moved = await move_card_tier(
        connection, ctx=ctx, target=target, reason="purchase", spend_12m=spend
    )
    return moved[0] if moved is not None else ctx


async def ledger_page(
    session: AsyncSession,
    *,
    card_id: uuid.UUID,
    user_id: uuid.UUID,
    cursor: str | None,
    limit: int,
) -> schemas.Page[schemas.LedgerEntry]:
    await access_card(session, card_id=card_id, user_id=user_id)
    rows = await LedgerRepository(session).page(card_id, seq_cursor(cursor), limit)
    next_cursor = encode_cursor({"seq": rows[limit - 1].seq}) if len(rows) > limit else None
    return schemas.Page[schemas.LedgerEntry](
        items=[entry_schema(e) for e in rows[:limit]], next_cursor=next_cursor
    )


async def adjust_points(
    session: AsyncSession,
    *,
    card_id: uuid.UUID,
    user_id: uuid.UUID,
    data: schemas.AdjustmentCreate,
) -> schemas.CounterTransaction:
    """A manager's manual correction of points (goodwill, a lost receipt...)."""
    access = await access_card(session, card_id=card_id, user_id=user_id)
    _require_manager(access.staff_role)
    entry, _ = await post_entry(
        session,
        card=access.ctx.card,
        kind="adjustment",
        rule_version=access.ctx.program.rule_version,
        points=data.points_delta,
        staff_user_id=user_id,
        note=data.note,
    )
    return schemas.CounterTransaction(
        entry=entry_schema(entry), card=card_schema(access.ctx.card, access.ctx)
    )


def _require_manager(role: str | None) -> None:
    if role is None:  # the holder: same answer as a stranger would get
        raise CardNotFound()
    if role not in ("manager", "owner"):
        raise role_needed("manager")


async def reverse_transaction(
    session: AsyncSession,
    *,
    entry_id: uuid.UUID,
    user_id: uuid.UUID,
    note: str | None,
    now: datetime,
) -> schemas.CounterTransaction:
    """Undo a counter transaction by appending its opposite (managers only; once)."""
    ledger = LedgerRepository(session)
    # the row lock serialises concurrent reversals of the same entry; the unique
    # reverses_entry_id is the database's backstop
    original = await ledger.get_for_update(entry_id)
    if original is None:
        raise TransactionNotFound()
    role = await accounts.staff_role(session, merchant_id=original.merchant_id, user_id=user_id)
    if role is None:
        raise TransactionNotFound()
    _require_manager(role)
    if original.kind not in REVERSIBLE_KINDS:
        raise NotReversible()
    if await ledger.is_reversed(original.id):
        raise AlreadyReversed()
    ctx = await card_context(await connection_of(session), original.card_id)
    assert ctx is not None  # the ledger row references it
    uses_after: int | None = None
    if original.count_pass_id is not None:
        # the pass's row lock before the card's, the order every count-card path takes
        uses_after = await give_back_use(session, pass_id=original.count_pass_id)
    entry, _ = await post_entry(
        session,
        card=ctx.card,
        kind="reversal",
        # it undoes exactly what the original computed, under the original's rules
        rule_version=original.rule_version,
        points=-original.points_delta,
        principal=-original.principal_delta,
        bonus=-original.bonus_delta,
        spend=-original.spend_delta,
        amount=original.amount,
        paid_amount=original.paid_amount,
        shop_id=original.shop_id,
        staff_user_id=user_id,
        reverses_entry_id=original.id,
        count_pass_id=original.count_pass_id,
        uses_delta=-original.uses_delta,
        uses_after=uses_after,
        note=note,
    )
    return schemas.CounterTransaction(entry=entry_schema(entry), card=card_schema(ctx.card, ctx))


async def is_own_card_transaction(
    session: AsyncSession, *, entry_id: uuid.UUID, user_id: uuid.UUID, shop_id: uuid.UUID
) -> bool:
    """For verified reviews: the ledger entry is the user's own counter transaction there."""
    return await LedgerRepository(session).is_users_transaction_at_shop(
        entry_id, user_id=user_id, shop_id=shop_id
    )
