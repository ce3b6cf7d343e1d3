"""Queries of the customer records, their timeline and the access audit log."""

from __future__ import annotations

import uuid
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    SmallInteger,
    String,
    bindparam,
    cast,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    table,
    true,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.ids import new_id
from core.lean import Connection, Statement
from customers.models import (
    WEEK_SHARDS,
    Complaint,
    Customer,
    CustomerAccessLog,
    CustomerEvent,
    CustomerVisitWeek,
    CustomerWeek,
    FollowUp,
)

# The merchant's time zone, read inside the record statement (the weekly rollup's week is the
# local Monday); a bare table reference, the model belongs to accounts.
_merchants = table("merchants", literal_column("id"), literal_column("timezone"))
# The user's name and phone, copied into a new customer record by the upsert itself (so a
# first visit costs no extra round trips); a bare table reference for the same reason.
_users = table(
    "users", literal_column("id"), literal_column("display_name"), literal_column("phone")
)


def _of_user(column: str) -> Any:
    return (
        select(literal_column(column))
        .select_from(_users)
        .where(literal_column("id") == bindparam("user_id"))
        .scalar_subquery()
    )


SORT_COLUMNS: dict[str, Any] = {
    "last_visit": Customer.last_visit_at,
    "total_spend": Customer.total_spend,
    "visits": Customer.visits,
}


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def phone_digits(q: str) -> str | None:
    """The digits of a query that is a phone search (digits, spaces, + and - only), else None."""
    digits = "".join(ch for ch in q if ch.isdigit())
    if digits and len(digits) >= 3 and all(ch.isdigit() or ch in " +-" for ch in q.strip()):
        return digits
    return None


def search_clause(q: str) -> ColumnElement[bool]:
    """Digits search the phone (contains), anything else the name (case-insensitive contains)."""
    digits = phone_digits(q)
    if digits is not None:
        return Customer.phone.like(f"%{_like_escape(digits)}%", escape="\\")
    return Customer.name.ilike(f"%{_like_escape(q.strip())}%", escape="\\")


def masked_phone_clause(*, full: str | None, last_four: str | None) -> ColumnElement[bool]:
    """For staff who see phones masked (138****5678): a whole number, or the last four digits
    they can already see. Any other fragment would test hidden digits one by one."""
    if full is not None:
        return Customer.phone == full
    assert last_four is not None and len(last_four) == 4 and last_four.isdigit()
    return Customer.phone.like(f"%{last_four}")


def _upsert_params(
    *,
    merchant_id: uuid.UUID,
    user_id: uuid.UUID,
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
@cache
def _upsert_statement() -> Any:
    c = Customer.__table__.c
    stmt = insert(Customer.__table__).values(  # type: ignore[arg-type]
        id=bindparam("id", type_=c.id.type),
        merchant_id=bindparam("merchant_id", type_=c.merchant_id.type),
        user_id=bindparam("user_id", type_=c.user_id.type),
        first_seen_at=bindparam("at", type_=c.first_seen_at.type),
        last_activity_at=bindparam("at", type_=c.last_activity_at.type),
        first_visit_at=bindparam("visit_at", type_=c.first_visit_at.type),
        last_visit_at=bindparam("visit_at", type_=c.last_visit_at.type),
        first_purchase_at=bindparam("purchase_at", type_=c.first_purchase_at.type),
        visits=bindparam("visits", type_=c.visits.type),
        total_spend=bindparam("spend", type_=c.total_spend.type),
        currency=bindparam("currency", type_=c.currency.type),
        source=bindparam("source", type_=c.source.type),
        tier=bindparam("tier", type_=c.tier.type),
        # copied once on creation (not in the update below); staff may rename later
        name=_of_user("display_name"),
        phone=_of_user("phone"),
        # columns with Python-side defaults are given explicitly (a CTE does not apply them)
        tags=literal_column("DEFAULT"),
        refuses_calls=literal_column("DEFAULT"),
    )
    excluded = stmt.excluded
    return stmt.on_conflict_do_update(
        index_elements=[c.merchant_id, c.user_id],
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
def _record_statement() -> Any:
    upsert = _upsert_statement().cte("customer")
    e = CustomerEvent.__table__.c
    event = (
        insert(CustomerEvent.__table__)  # type: ignore[arg-type]
        .from_select(
            ["merchant_id", "customer_id", "kind", "at", "visit", "amount", "currency",
             "reference_id"],
            select(
                bindparam("merchant_id", type_=e.merchant_id.type),
                upsert.c.id,
                bindparam("source", type_=e.kind.type),
                bindparam("at", type_=e.at.type),
                bindparam("visit", type_=e.visit.type),
                bindparam("spend", type_=e.amount.type),
                bindparam("currency", type_=e.currency.type),
                bindparam("reference_id", type_=e.reference_id.type),
            ),
        )
        .returning(e.id)
        .cte("event")
    )  # fmt: skip
    # Weekly rollup, in the same statement so it can never disagree with the timeline: the
    # event's local week; a visit inserts (customer, week) once, and only that insert counts a
    # visitor; revenue and visits add up. Shards by the customer id's last byte (see
    # CustomerWeek), so one customer always lands in the same shard.
    merchant_id = bindparam("merchant_id", type_=e.merchant_id.type)
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
def _record() -> Statement:
    return Statement(_record_statement())


async def record_event(
    connection: Connection,
    *,
    merchant_id: uuid.UUID,
    user_id: uuid.UUID,
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
    transaction's driver connection (core.lean), whichever route opened it.

    The row lock taken by ON CONFLICT DO UPDATE serialises concurrent events of one
    customer, so exactly one event sees `total_spend` equal to its own spend while the
    total before it was zero: that one is the first purchase.
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
    row = await _record().one(connection, params)
    assert row is not None
    return row[0], spend > 0 and row[1] == spend


class CustomerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # -- writes from record_activity ----------------------------------------------------------

    async def set_tier(self, *, merchant_id: uuid.UUID, user_id: uuid.UUID, tier: str) -> bool:
        result = await self.session.execute(
            update(Customer)
            .where(Customer.merchant_id == merchant_id, Customer.user_id == user_id)
            .values(tier=tier, updated_at=func.now())
            .returning(Customer.id)
        )
        return result.first() is not None

    # -- reads ------------------------------------------------------------------------------

    async def get(self, merchant_id: uuid.UUID, customer_id: uuid.UUID) -> Customer | None:
        stmt = select(Customer).where(
            Customer.merchant_id == merchant_id, Customer.id == customer_id
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def get_for_update(
        self, merchant_id: uuid.UUID, customer_id: uuid.UUID
    ) -> Customer | None:
        stmt = (
            select(Customer)
            .where(Customer.merchant_id == merchant_id, Customer.id == customer_id)
            .with_for_update()
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def id_of_user(self, merchant_id: uuid.UUID, user_id: uuid.UUID) -> uuid.UUID | None:
        stmt = select(Customer.id).where(
            Customer.merchant_id == merchant_id, Customer.user_id == user_id
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def update_fields(
        self, merchant_id: uuid.UUID, customer_id: uuid.UUID, changes: dict[str, Any]
    ) -> Customer | None:
        stmt = (
            update(Customer)
            .where(Customer.merchant_id == merchant_id, Customer.id == customer_id)
            .values(**changes, updated_at=func.now())
            .returning(Customer)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def page(
        self,
        *,
        merchant_id: uuid.UUID,
        filters: list[ColumnElement[bool]],
        sort: str,
        after: tuple[Any, uuid.UUID] | None,
        limit: int,
    ) -> list[Customer]:
        """Up to `limit` customers in (sort key DESC, id DESC) order after the cursor.

        Every statement is an index range scan of (merchant_id, key, id) read backwards. For
        last_visit (nullable) the never-visited customers come last: a second statement
        continues into them when the first runs out, so no OR spoils the index condition.
        """
        column = SORT_COLUMNS[sort]
        base = [Customer.merchant_id == merchant_id, *filters]
        rows: list[Customer] = []
        in_null_phase = sort == "last_visit" and after is not None and after[0] is None
        if not in_null_phase:
            conds = list(base)
            if sort == "last_visit":
                conds.append(column.is_not(None))
            if after is not None:
                conds.append(tuple_(column, Customer.id) < tuple_(after[0], after[1]))
            stmt = (
                select(Customer).where(*conds).order_by(column.desc(), Customer.id.desc())
            ).limit(limit)
            rows = list((await self.session.execute(stmt)).scalars())
        if sort == "last_visit" and len(rows) < limit:
            conds = [*base, column.is_(None)]
            if in_null_phase and after is not None:
                conds.append(Customer.id < after[1])
            stmt = (
                select(Customer).where(*conds).order_by(Customer.id.desc()).limit(limit - len(rows))
            )
            rows.extend((await self.session.execute(stmt)).scalars())
        return rows

    async def timeline(
        self,
        *,
        merchant_id: uuid.UUID,
        customer_id: uuid.UUID,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[Any]:
        events = select(
            CustomerEvent.at.label("at"),
            (literal("event:") + cast(CustomerEvent.id, String)).label("key"),
            CustomerEvent.kind.label("kind"),
            CustomerEvent.amount.label("amount"),
            CustomerEvent.currency.label("currency"),
            CustomerEvent.reference_id.label("reference_id"),
            cast(null(), String).label("summary"),
        ).where(
            CustomerEvent.merchant_id == merchant_id,
            CustomerEvent.customer_id == customer_id,
            # complaints appear from their own table, with their current status
            CustomerEvent.kind != "complaint",
        )
        follow_ups = select(
            FollowUp.occurred_at.label("at"),
            (literal("follow_up:") + cast(FollowUp.id, String)).label("key"),
            (literal("follow_up_") + FollowUp.method).label("kind"),
            cast(null(), FollowUp.satisfaction.type).label("amount"),
            cast(null(), String).label("currency"),
            FollowUp.id.label("reference_id"),
            func.left(FollowUp.content, 140).label("summary"),
        ).where(FollowUp.merchant_id == merchant_id, FollowUp.customer_id == customer_id)
        complaints = select(
            Complaint.opened_at.label("at"),
            (literal("complaint:") + cast(Complaint.id, String)).label("key"),
            (literal("complaint_") + Complaint.status).label("kind"),
            cast(null(), Complaint.satisfaction.type).label("amount"),
            cast(null(), String).label("currency"),
            Complaint.id.label("reference_id"),
            func.left(Complaint.content, 140).label("summary"),
        ).where(Complaint.merchant_id == merchant_id, Complaint.customer_id == customer_id)
        merged = union_all(events, follow_ups, complaints).subquery()
        stmt = select(merged)
        if after is not None:
            stmt = stmt.where(tuple_(merged.c.at, merged.c.key) < tuple_(after[0], after[1]))
        stmt = stmt.order_by(merged.c.at.desc(), merged.c.key.desc()).limit(limit)
        return list((await self.session.execute(stmt)).all())

    async def log_access(
        self,
        *,
        merchant_id: uuid.UUID,
        staff_user_id: uuid.UUID,
        action: str,
        customer_id: uuid.UUID | None,
        detail: dict[str, Any],
    ) -> None:
        await self.session.execute(
            insert(CustomerAccessLog).values(
                merchant_id=merchant_id,
                staff_user_id=staff_user_id,
                action=action,
                customer_id=customer_id,
                detail=detail,
            )
        )

    async def access_log(self, merchant_id: uuid.UUID, limit: int) -> list[CustomerAccessLog]:
        stmt = (
            select(CustomerAccessLog)
            .where(CustomerAccessLog.merchant_id == merchant_id)
            .order_by(CustomerAccessLog.id.desc())
            .limit(limit)
        )
        return list((await self.session.execute(stmt)).scalars())
