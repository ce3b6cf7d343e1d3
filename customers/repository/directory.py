"""Queries of the customer records, their timeline and the access audit log."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    String,
    and_,
    cast,
    func,
    literal,
    null,
    or_,
    select,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from customers.models import (
    Complaint,
    Customer,
    CustomerAccessLog,
    CustomerEvent,
    FollowUp,
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


class CustomerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # -- reads ------------------------------------------------------------------------------

    async def get(self, merchant_id: uuid.UUID, customer_id: uuid.UUID) -> Customer | None:
        stmt = select(Customer).where(
            Customer.merchant_id == merchant_id, Customer.id == customer_id
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def born_on(
        self, merchant_id: uuid.UUID, month_days: list[tuple[int, int]]
    ) -> list[Customer]:
        """The merchant's customers whose birthday falls on one of these (month, day)."""
        month = func.extract("month", Customer.birthday)
        day = func.extract("day", Customer.birthday)
        stmt = (
            select(Customer)
            .where(
                Customer.merchant_id == merchant_id,
                Customer.birthday.is_not(None),
                or_(*(and_(month == m, day == d) for m, d in month_days)),
            )
            .order_by(Customer.id)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def of_ids(self, merchant_id: uuid.UUID, ids: list[uuid.UUID]) -> list[Customer]:
        stmt = select(Customer).where(Customer.merchant_id == merchant_id, Customer.id.in_(ids))
        return list((await self.session.execute(stmt)).scalars())

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

    async def no_shows(
        self, customer_id: uuid.UUID, *, limit: int
    ) -> list[tuple[uuid.UUID, datetime]]:
        """The customer's no-shows (booking id, its start), latest first."""
        rows = await self.session.execute(
            select(CustomerEvent.reference_id, CustomerEvent.at)
            .where(
                CustomerEvent.customer_id == customer_id,
                CustomerEvent.kind == "no_show",
                CustomerEvent.reference_id.is_not(None),
            )
            .order_by(CustomerEvent.at.desc(), CustomerEvent.id.desc())
            .limit(limit)
        )
        return [(r[0], r[1]) for r in rows if r[0] is not None]

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
