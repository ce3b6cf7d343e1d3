"""Cards: joining, reading (holder or merchant staff), PIN, dynamic QR tokens."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from redis.asyncio import Redis
from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from accounts import service as accounts
from accounts.security import hash_secret
from core.lean import Db, connection_of
from core.money import Money
from core.pagination import page_from_rows
from core.settings import Settings
from core.signing import SignatureInvalid, sign, verify
from customers.service import record_activity
from memberships import cardnumbers, rules, schemas
from memberships.models import Card, CountPass, Program, Tier
from memberships.repository.cards import (
    CardContext,
    CardRepository,
    card_context,
    holder_has_card,
    holders_in_tiers,
    holders_in_tiers_select,
    insert_card,
    spend_since,
)
from memberships.repository.counts import passes_of_cards
from memberships.repository.physical import number_of_cards
from memberships.repository.programs import ProgramRepository, program_with_entry_tier
from memberships.service.cursors import time_id_cursor
from memberships.service.errors import (
    CardExists,
    CardNotFound,
    ProgramNotFound,
    QrExpired,
    QrInvalid,
)
from memberships.service.pins import check_pin
from memberships.service.programs import tier_rule

QR_TOKEN_TTL = timedelta(seconds=60)
QR_KIND = "card"


def months_ago(now: datetime, months: int) -> datetime:
    """The same wall-clock instant `months` months earlier (clamped to the month's end)."""
    month_index = now.year * 12 + now.month - 1 - months
    year, month = divmod(month_index, 12)
    day = now.day
    while True:
        try:
            return now.replace(year=year, month=month + 1, day=day)
        except ValueError:
            day -= 1


def count_pass_schema(
    found: CountPass, now: datetime, payment: schemas.PaymentInstructions | None = None
) -> schemas.CountPass:
    status = found.status
    if status == "active" and found.expires_at is not None and found.expires_at <= now:
        status = "expired"
    elif status == "active" and found.uses_left == 0:
        status = "used_up"
    return schemas.CountPass(
        id=found.id,
        card_id=found.card_id,
        product_id=found.product_id,
        name=found.name,
        uses_total=found.uses_total,
        uses_left=found.uses_left,
        price=Money.of(found.price, found.currency),
        status=status,  # type: ignore[arg-type]
        shop_ids=found.shop_ids,
        expires_at=found.expires_at,
        activated_at=found.activated_at,
        created_at=found.created_at,
        payment=payment,
    )


@dataclass(frozen=True)
class CardExtras:
    """What a card's full view adds: its paid count passes and bound physical number."""

    passes: list[schemas.CountPass]
    physical_number: str | None


async def card_extras(
    db: Db, card_ids: list[uuid.UUID], now: datetime
) -> dict[uuid.UUID, CardExtras]:
    if not card_ids:
        return {}
    connection = await connection_of(db)
    passes = await passes_of_cards(connection, card_ids, paid_only=True)
    numbers = await number_of_cards(connection, card_ids)
    return {
        cid: CardExtras([count_pass_schema(p, now) for p in passes[cid]], numbers.get(cid))
        for cid in card_ids
    }


def card_schema(
    card: Card,
    ctx: CardContext,
    *,
    progress: schemas.Progress | None = None,
    extras: CardExtras | None = None,
) -> schemas.Card:
    currency = card.currency
    return schemas.Card(
        id=card.id,
        program_id=card.program_id,
        merchant_id=card.merchant_id,
        card_number=card.card_number,
        tier=schemas.CardTier(
            code=ctx.tier.code,
            name=ctx.tier.name,
            rank=ctx.tier.rank,
            discount_percent=ctx.tier.discount_percent,
        ),
        points=card.points,
        balance=Money.of(card.principal + card.bonus, currency),
        principal=Money.of(card.principal, currency),
        bonus=Money.of(card.bonus, currency),
        has_pin=card.pin_hash is not None,
        progress=progress,
        count_passes=extras.passes if extras else None,
        physical_card_number=extras.physical_number if extras else None,
        created_at=card.created_at,
    )


async def card_progress(
    session: AsyncSession, contexts: list[CardContext], now: datetime
) -> dict[uuid.UUID, schemas.Progress]:
    if not contexts:
        return {}
    spend = await spend_since(
        await connection_of(session), [c.card.id for c in contexts], months_ago(now, 12)
    )
    tiers = await ProgramRepository(session).tiers(list({c.program.id for c in contexts}))
    return {
        ctx.card.id: progress_of(ctx, spend[ctx.card.id], tiers[ctx.program.id]) for ctx in contexts
    }


def progress_of(ctx: CardContext, spent: int, tiers: list[Tier]) -> schemas.Progress:
    """A card's way to its next tier: `spent` in the last 12 months, `tiers` its programme's."""
    currency = ctx.card.currency
    following = rules.next_tier([tier_rule(t) for t in tiers], ctx.tier.rank)
    return schemas.Progress(
        spend_12m=Money.of(spent, currency),
        next_tier=schemas.TierRef(code=following.code, name=following.name) if following else None,
        remaining=(
            Money.of(max(0, (following.upgrade_min_spend_12m or 0) - spent), currency)
            if following
            else None
        ),
    )


async def issue_card(
    db: Db,
    *,
    program: Program,
    entry: Tier,
    user_id: uuid.UUID | None,
    customer_id: uuid.UUID | None = None,
    legacy_number: str | None = None,
) -> Card | None:
    """A new card at the entry tier with a fresh number, or None when the holder (user or
    customer record) already has one in the programme or `legacy_number` is taken."""
    connection = await connection_of(db)
    for _ in range(5):
        card = await insert_card(
            connection,
            {
                "program_id": program.id,
                "merchant_id": program.merchant_id,
                "user_id": user_id,
                "customer_id": customer_id,
                "legacy_number": legacy_number,
                "card_number": cardnumbers.new_card_number(),
                "tier_id": entry.id,
                "currency": program.currency,
            },
        )
        if card is not None:
            return card
        # a unique constraint refused the row: the holder's, or only the random number's
        if await holder_has_card(connection, program.id, user_id, customer_id, legacy_number):
            return None
    # 10^14 numbers: five collisions in a row means something else is wrong
    raise RuntimeError("could not allocate a card number")


async def join_program(
    db: Db, *, program_id: uuid.UUID, user_id: uuid.UUID, now: datetime
) -> schemas.Card:
    """A card of the programme at its entry tier for the caller (409 when they hold one)."""
    connection = await connection_of(db)
    found = await program_with_entry_tier(connection, program_id)
    if found is None:
        raise ProgramNotFound()
    program, first = found
    card = await issue_card(connection, program=program, entry=first, user_id=user_id)
    if card is None:
        raise CardExists()
    await record_activity(
        connection,
        merchant_id=program.merchant_id,
        user_id=user_id,
        kind="card_joined",
        at=now,
        reference_id=card.id,
        tier=first.code,
    )
    ctx = CardContext(card, program, first, None)
    return card_schema(card, ctx)


@dataclass(frozen=True)
class CardAccess:
    ctx: CardContext
    staff_role: str | None  # None: the caller is the holder

    @property
    def is_holder(self) -> bool:
        return self.staff_role is None


async def access_card(
    session: AsyncSession,
    *,
    card_id: uuid.UUID,
    user_id: uuid.UUID,
    holder_only: bool = False,
    staff_only: bool = False,
) -> CardAccess:
    """The card for its holder (unless staff_only) or (unless holder_only) its merchant's
    staff; anyone else gets the card's 404. With staff_only the holder gets it too: a
    stored-value refund or a PIN reset at the counter is staff serving a member."""
    ctx = await card_context(await connection_of(session), card_id)
    if ctx is None:
        raise CardNotFound()
    if ctx.card.user_id == user_id:
        if staff_only:
            raise CardNotFound()
        return CardAccess(ctx, None)
    if not holder_only:
        role = await accounts.staff_role(session, merchant_id=ctx.card.merchant_id, user_id=user_id)
        if role is not None:
            return CardAccess(ctx, role)
    raise CardNotFound()


async def get_card(
    session: AsyncSession, *, card_id: uuid.UUID, user_id: uuid.UUID, now: datetime
) -> schemas.Card:
    ctx = (await access_card(session, card_id=card_id, user_id=user_id)).ctx
    progress = await card_progress(session, [ctx], now)
    extras = await card_extras(session, [ctx.card.id], now)
    return card_schema(ctx.card, ctx, progress=progress[ctx.card.id], extras=extras[ctx.card.id])


async def my_cards(
    session: AsyncSession, *, user_id: uuid.UUID, cursor: str | None, limit: int, now: datetime
) -> schemas.Page[schemas.Card]:
    after = time_id_cursor(cursor)
    rows = await CardRepository(session).contexts_for_user(user_id, after, limit)
    items, next_cursor = page_from_rows(
        rows, limit, lambda c: {"t": c.card.created_at.isoformat(), "id": str(c.card.id)}
    )
    progress = await card_progress(session, items, now)
    extras = await card_extras(session, [c.card.id for c in items], now)
    return schemas.Page[schemas.Card](
        items=[
            card_schema(c.card, c, progress=progress[c.card.id], extras=extras[c.card.id])
            for c in items
        ],
        next_cursor=next_cursor,
    )


async def set_pin(
    session: AsyncSession,
    *,
    settings: Settings,
    redis: Redis,
    card_id: uuid.UUID,
    user_id: uuid.UUID,
    data: schemas.PinSet,
    now: datetime,
) -> schemas.Card:
    """Set the PIN, or change it with the current one (wrong ones count toward the lock)."""
    ctx = (await access_card(session, card_id=card_id, user_id=user_id, holder_only=True)).ctx
    card = ctx.card
    if card.pin_hash is not None:
        await check_pin(settings, redis, card=card, pin=data.current_pin, now=now)
    pin_hash = await hash_secret(settings, data.pin)
    await CardRepository(session).set_pin_hash(card.id, pin_hash)
    card.pin_hash = pin_hash
    return card_schema(card, ctx)


async def issue_qr_token(
    session: AsyncSession,
    *,
    settings: Settings,
    card_id: uuid.UUID,
    user_id: uuid.UUID,
    now: datetime,
) -> schemas.QrToken:
    await access_card(session, card_id=card_id, user_id=user_id, holder_only=True)
    expires_at = now + QR_TOKEN_TTL
    token = sign(
        {
            "k": QR_KIND,
            "c": card_id.hex,
            "j": secrets.token_hex(8),
            "x": int(expires_at.timestamp()),
        },
        settings.signing_keys(),
    )
    return schemas.QrToken(token=token, expires_at=expires_at.replace(microsecond=0))


@dataclass(frozen=True)
class QrClaim:
    card_id: uuid.UUID
    token_id: str


def read_qr_token(settings: Settings, token: str, now: datetime) -> QrClaim:
    """Check a member QR token without the database: signature, kind, expiry."""
    try:
        payload = verify(token, settings.signing_keys())
    except SignatureInvalid as exc:
        raise QrInvalid() from exc
    try:
        if payload["k"] != QR_KIND:
            raise QrInvalid()
        card_id = uuid.UUID(hex=str(payload["c"]))
        token_id = str(payload["j"])
        expires = int(payload["x"])
    except (KeyError, ValueError, TypeError) as exc:
        raise QrInvalid() from exc
    if now.timestamp() > expires:
        raise QrExpired()
    return QrClaim(card_id, token_id)


async def tier_members(
    db: Db,
    *,
    merchant_id: uuid.UUID,
    tier_codes: list[str],
    program_id: uuid.UUID | None = None,
    user_id: uuid.UUID | None = None,
) -> list[uuid.UUID]:
    """Card holders of the merchant at these tiers (a coupon audience); `user_id` narrows it
    to a membership test."""
    return await holders_in_tiers(
        await connection_of(db), merchant_id, tier_codes, program_id=program_id, user_id=user_id
    )


def tier_members_select(
    *, merchant_id: uuid.UUID, tier_codes: list[str], program_id: uuid.UUID | None = None
) -> Select[uuid.UUID]:
    """The same audience as `tier_members`, as a SELECT of distinct `user_id` for packages
    that embed it in their own set-based targeting query (push flash offers)."""
    return holders_in_tiers_select(merchant_id, tier_codes, program_id=program_id)
