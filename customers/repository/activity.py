"""The hot write path of customer activity: one statement upserts the customer, appends the
timeline row and bumps the weekly rollup (every redemption, card transaction and order lands here).

Invariant: an event is recorded entirely or not at all (one statement); concurrent events of one
customer serialise on the customer row lock, so exactly one of them is the first purchase.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    Date,
    SmallInteger,
    bindparam,
    cast,
    func,
    literal_column,
    or_,
    select,
    table,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.ids import new_id
from core.lean import Connection, Statement
from customers.models import (
    WEEK_SHARDS,
    Customer,
    CustomerEvent,
    CustomerVisitWeek,
    CustomerWeek,
)

# The merchant's time zone, read inside the record statement (the weekly rollup's week is the
# local Monday); a bare table reference, the model belongs to accounts.
_merchants = table("merchants", literal_column("id"), literal_column("timezone"))
# The user's name and phone, copied into a new customer record by the upsert itself (so a
# first visit costs no extra round trips); a bare table reference for the same reason.
_users = table(
    "users", literal_column("id"), literal_column("display_name"), literal_column("phone")
)


def _of_user(column: str, user_id: Any) -> Any:
    return (
        select(literal_column(column))
        .select_from(_users)
        .where(literal_column("id") == user_id)
        .scalar_subquery()
    )


def _upsert_params(
    *,
    merchant_id: uuid.UUID | None,
    user_id: uuid.UUID | None,
    source: str,
    at: datetime,
    spend: int,
    currency: str,
    visit: bool,
    tier: str | None,
) -> dict[str, Any]:
    return {
        "id": new_id(),
        "merchant_id": merchant_id,
        "user_id": user_id,
        "at": at,
        "visit_at": at if visit else None,
        "purchase_at": at if spend > 0 else None,
        "visits": 1 if visit else 0,
        "visit": visit,
        "spend": spend,
        "currency": currency,
        "source": source,
        "tier": tier,
    }


# Built once with bind parameters: record_activity runs on every counter transaction and
# redemption, and building (and cache-keying) these statements per call cost more CPU than
# executing them.
# The values an event's record takes from a `source` (a CTE of the caller's statement, e.g. the
# order a payment callback just paid) instead of bind parameters: see `recorded_from`.
SOURCE_COLUMNS = ("merchant_id", "user_id", "currency", "reference_id")


def _value(name: str, type_: Any, source: Any) -> Any:
    """Bind parameter `name`, or the source's column of that name (`SOURCE_COLUMNS`)."""
    if source is not None and name in SOURCE_COLUMNS:
        return source.c[name]
    return bindparam(name, type_=type_)


# Built once with bind parameters: record_activity runs on every counter transaction and
# redemption, and building (and cache-keying) these statements per call cost more CPU than
# executing them.
@cache
def _upsert_statement(by_customer_id: bool = False, source: Any = None) -> Any:
    """Keyed by (merchant, user); or, `by_customer_id`, by the record's own id (bound as `id`:
    a customer staff added, who has no user yet — the insert half never applies then).
    With a `source`, one record per source row (INSERT … SELECT … FROM source: none when the
    source is empty)."""
    c = Customer.__table__.c
    user_id = _value("user_id", c.user_id.type, source)
    values = {
        "id": bindparam("id", type_=c.id.type),
        "merchant_id": _value("merchant_id", c.merchant_id.type, source),
        "user_id": user_id,
        "first_seen_at": bindparam("at", type_=c.first_seen_at.type),
        "last_activity_at": bindparam("at", type_=c.last_activity_at.type),
        "first_visit_at": bindparam("visit_at", type_=c.first_visit_at.type),
        "last_visit_at": bindparam("visit_at", type_=c.last_visit_at.type),
        "first_purchase_at": bindparam("purchase_at", type_=c.first_purchase_at.type),
        "visits": bindparam("visits", type_=c.visits.type),
        "total_spend": bindparam("spend", type_=c.total_spend.type),
        "currency": _value("currency", c.currency.type, source),
        "source": bindparam("source", type_=c.source.type),
        "tier": bindparam("tier", type_=c.tier.type),
        # copied once on creation (not in the update below); staff may rename later
        "name": _of_user("display_name", user_id),
        "phone": _of_user("phone", user_id),
    }
    table_ = Customer.__table__
    if source is None:
        stmt = insert(table_).values(  # type: ignore[arg-type]
            **values,
            # columns with Python-side defaults are given explicitly (a CTE does not apply them)
            tags=literal_column("DEFAULT"),
            refuses_calls=literal_column("DEFAULT"),
        )
    else:  # tags and refuses_calls left out: their server defaults apply
        stmt = insert(table_).from_select(  # type: ignore[arg-type]
            list(values), select(*values.values()).select_from(source), include_defaults=False
        )
    excluded = stmt.excluded
    return stmt.on_conflict_do_update(
        index_elements=[c.id] if by_customer_id else [c.merchant_id, c.user_id],
        where=(c.merchant_id == excluded.merchant_id) if by_customer_id else None,
        set_={
            "first_seen_at": func.least(c.first_seen_at, excluded.first_seen_at),
            "last_activity_at": func.greatest(c.last_activity_at, excluded.last_activity_at),
            # least/greatest ignore NULLs in PostgreSQL
            "first_visit_at": func.least(c.first_visit_at, excluded.first_visit_at),
            "last_visit_at": func.greatest(c.last_visit_at, excluded.last_visit_at),
            "first_purchase_at": func.least(c.first_purchase_at, excluded.first_purchase_at),
            "visits": c.visits + excluded.visits,
            "total_spend": c.total_spend + excluded.total_spend,
            "tier": func.coalesce(excluded.tier, c.tier),
            "updated_at": func.now(),
        },
    ).returning(c.id, c.total_spend)


def _shard_of(customer_id: Any) -> Any:
    """The customer's shard of the weekly rollup (the id's last byte, random in UUIDv7)."""
    return func.get_byte(func.uuid_send(customer_id), 15).op("&")(WEEK_SHARDS - 1)


@cache
def _record_statement(by_customer_id: bool = False, source: Any = None) -> Any:
    """Keyed by user (an upsert) or, `by_customer_id`, by an existing customer's id; with a
    `source` (see `recorded_from`), the merchant, user, currency and reference are its row's."""
    upsert = _upsert_statement(by_customer_id, source).cte("customer")
    e = CustomerEvent.__table__.c
    event = (
        insert(CustomerEvent.__table__)  # type: ignore[arg-type]
        .from_select(
            ["merchant_id", "customer_id", "kind", "at", "visit", "amount", "currency",
             "reference_id"],
            select(
                _value("merchant_id", e.merchant_id.type, source),
                upsert.c.id,
                bindparam("source", type_=e.kind.type),
                bindparam("at", type_=e.at.type),
                bindparam("visit", type_=e.visit.type),
                bindparam("spend", type_=e.amount.type),
                _value("currency", e.currency.type, source),
                _value("reference_id", e.reference_id.type, source),
            ),
        )
        .returning(e.id)
        .cte("event")
    )  # fmt: skip
    # Weekly rollup, in the same statement so it can never disagree with the timeline: the
    # event's local week; a visit inserts (customer, week) once, and only that insert counts a
    # visitor; revenue and visits add up. Shards by the customer id's last byte (see
    # CustomerWeek), so one customer always lands in the same shard.
    merchant_id = _value("merchant_id", e.merchant_id.type, source)
    visit = bindparam("visit", type_=e.visit.type)
    spend = bindparam("spend", type_=e.amount.type)
    tz = (
        select(literal_column("timezone"))
        .select_from(_merchants)
        .where(literal_column("id") == merchant_id)
        .scalar_subquery()
    )
    week = cast(func.date_trunc("week", func.timezone(tz, bindparam("at", type_=e.at.type))), Date)
    vw = CustomerVisitWeek.__table__.c
    visit_week = (
        insert(CustomerVisitWeek.__table__)  # type: ignore[arg-type]
        .from_select(
            ["customer_id", "week", "merchant_id"],
            select(upsert.c.id, week, merchant_id).where(visit),
        )
        .on_conflict_do_nothing(index_elements=[vw.customer_id, vw.week])
        .returning(vw.customer_id)
        .cte("visit_week")
    )
    w = CustomerWeek.__table__.c
    rollup_insert = insert(CustomerWeek.__table__).from_select(  # type: ignore[arg-type]
        ["merchant_id", "week", "shard", "revenue", "visits", "visitors"],
        select(
            merchant_id,
            week,
            cast(_shard_of(upsert.c.id), SmallInteger),
            spend,
            bindparam("visits", type_=w.visits.type),
            select(func.count()).select_from(visit_week).scalar_subquery(),
        ).where(or_(visit, spend > 0)),
    )
    excluded = rollup_insert.excluded
    rollup = (
        rollup_insert.on_conflict_do_update(
            index_elements=[w.merchant_id, w.week, w.shard],
            set_={
                "revenue": w.revenue + excluded.revenue,
                "visits": w.visits + excluded.visits,
                "visitors": w.visitors + excluded.visitors,
            },
        )
        .returning(w.week)
        .cte("rollup")
    )
    return select(
        upsert.c.id,
        upsert.c.total_spend,
        # referenced so the rollup CTE is rendered (PostgreSQL runs it either way)
        select(func.count()).select_from(rollup).scalar_subquery().label("rollups"),
    ).select_from(upsert.join(event, true()))


@cache
def _record(by_customer_id: bool) -> Statement:
    return Statement(_record_statement(by_customer_id=by_customer_id))


def recorded_from(source: Any) -> Any:
    """`record_event`'s statement for events whose merchant, user, currency and reference
    (`SOURCE_COLUMNS`) are the rows of `source`, a CTE of the caller's own statement (the
    order a payment callback pays in the same statement: one round trip for both). Its
    data-modifying CTEs are rendered at the top of the caller's statement; it selects
    (customer id, total spend, rollups), no row when the source has none. The other values
    are bound: `recorded_params`. The caller handles a first purchase (spend > 0)."""
    return _record_statement(False, source)


def recorded_params(*, source: str, at: datetime, spend: int, visit: bool) -> dict[str, Any]:
    """The bound values of `recorded_from`'s statement (the source's columns left out)."""
    params = _upsert_params(merchant_id=None, user_id=None, source=source, at=at, spend=spend,
                            currency="", visit=visit, tier=None)  # fmt: skip
    for name in SOURCE_COLUMNS:
        params.pop(name, None)
    return params


async def record_event(
    connection: Connection,
    *,
    merchant_id: uuid.UUID,
    user_id: uuid.UUID | None,
    customer_id: uuid.UUID | None = None,
    source: str,
    at: datetime,
    spend: int,
    currency: str,
    visit: bool,
    tier: str | None,
    reference_id: uuid.UUID | None,
) -> tuple[uuid.UUID, bool]:
    """The customer upsert, the timeline row and the weekly rollup in one statement (one
    round trip per event): the timeline row is inserted from the upsert's RETURNING, so
    both happen or neither. Returns (customer id, this was the first purchase). Runs on the
    transaction's driver connection (core.lean), whichever kind of route opened it.

    The row lock taken by ON CONFLICT DO UPDATE serialises concurrent events of one
    customer, so exactly one event sees `total_spend` equal to its own spend while the
    total before it was zero: that one is the first purchase.

    Without a user (a walk-in customer's card), `customer_id` names the record to update.
    """
    params = _upsert_params(
        merchant_id=merchant_id,
        user_id=user_id,
        source=source,
        at=at,
        spend=spend,
        currency=currency,
        visit=visit,
        tier=tier,
    )
    params["reference_id"] = reference_id
    if user_id is None:
        params["id"] = customer_id
    row = await _record(user_id is None).one(connection, params)
    assert row is not None
    return row[0], spend > 0 and row[1] == spend


@cache
def _tier_statement() -> Statement:
    c = Customer.__table__.c
    return Statement(
        update(Customer.__table__)  # type: ignore[arg-type]
        .where(
            c.merchant_id == bindparam("p_merchant_id", type_=c.merchant_id.type),
            c.user_id == bindparam("p_user_id", type_=c.user_id.type),
        )
        .values(tier=bindparam("p_tier", type_=c.tier.type), updated_at=func.now())
        .returning(c.id)
    )


async def set_customer_tier(
    connection: Connection, *, merchant_id: uuid.UUID, user_id: uuid.UUID, tier: str
) -> bool:
    """The customer's membership tier (a card moved); False when the user is no customer."""
    params = {"p_merchant_id": merchant_id, "p_user_id": user_id, "p_tier": tier}
    return await _tier_statement().one(connection, params) is not None


class ActivityRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record_no_show(
        self,
        *,
        merchant_id: uuid.UUID,
        customer_id: uuid.UUID | None,
        user_id: uuid.UUID | None,
        booking_id: uuid.UUID,
        at: datetime,
    ) -> uuid.UUID | None:
        """Count a no-show on the customer (by record id, else by user) and put it on the
        timeline; None when the merchant has no such customer. Not activity: last_activity_at
        and the weekly figures stay as they are."""
        who = Customer.id == customer_id if customer_id is not None else Customer.user_id == user_id
        found = (
            await self.session.execute(
                update(Customer)
                .where(Customer.merchant_id == merchant_id, who)
                .values(no_shows=Customer.no_shows + 1, updated_at=func.now())
                .returning(Customer.id)
            )
        ).first()
        if found is None:
            return None
        self.session.add(
            CustomerEvent(
                merchant_id=merchant_id,
                customer_id=found[0],
                kind="no_show",
                at=at,
                visit=False,
                reference_id=booking_id,
            )
        )
        await self.session.flush()
        return found[0]
