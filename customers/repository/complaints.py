"""Complaint queries: atomic status transitions, overdue-first lists, response statistics."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, case, func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from customers.models import Complaint, Customer


def urgency(now: datetime) -> ColumnElement[int]:
    """0 overdue and unanswered, 1 open, 2 responded, 3 finished: the list's first key."""
    return case(
        ((Complaint.status == "open") & (Complaint.due_at < now), 0),
        (Complaint.status == "open", 1),
        (Complaint.status == "responded", 2),
        else_=3,
    )


def response_minutes() -> ColumnElement[Any]:
    return func.extract("epoch", Complaint.responded_at - Complaint.opened_at) / 60.0


class ComplaintRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, complaint: Complaint) -> Complaint:
        self.session.add(complaint)
        await self.session.flush()
        await self.session.refresh(complaint)
        return complaint

    async def get(self, merchant_id: uuid.UUID, complaint_id: uuid.UUID) -> Complaint | None:
        stmt = select(Complaint).where(
            Complaint.merchant_id == merchant_id, Complaint.id == complaint_id
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def of_user(self, user_id: uuid.UUID) -> list[Complaint]:
        stmt = (
            select(Complaint)
            .join(Customer, Customer.id == Complaint.customer_id)
            .where(Customer.user_id == user_id)
            .order_by(Complaint.opened_at.desc(), Complaint.id.desc())
            .limit(100)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def transition(
        self,
        *,
        merchant_id: uuid.UUID,
        complaint_id: uuid.UUID,
        from_statuses: tuple[str, ...],
        values: dict[str, Any],
    ) -> Complaint | None:
        """Conditional UPDATE: only applies while the complaint is in one of `from_statuses`."""
        stmt = (
            update(Complaint)
            .where(
                Complaint.merchant_id == merchant_id,
                Complaint.id == complaint_id,
                Complaint.status.in_(from_statuses),
            )
            .values(**values, updated_at=func.now())
            .returning(Complaint)
            # the row may already be in the session (locked before an assignment): refresh it
            .execution_options(synchronize_session=False, populate_existing=True)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def page(
        self,
        *,
        merchant_id: uuid.UUID,
        now: datetime,
        status: str | None,
        customer_id: uuid.UUID | None,
        after: tuple[int, datetime, uuid.UUID] | None,
        limit: int,
        assignee: Any = None,
    ) -> list[tuple[Complaint, int]]:
        """`assignee`: an AssigneeFilter (that person's, or unassigned ones) or None."""
        rank = urgency(now)
        stmt = select(Complaint, rank.label("rank")).where(Complaint.merchant_id == merchant_id)
        if status is not None:
            stmt = stmt.where(Complaint.status == status)
        if customer_id is not None:
            stmt = stmt.where(Complaint.customer_id == customer_id)
        if assignee is not None:
            stmt = stmt.where(
                Complaint.assignee.is_(None)
                if assignee.unassigned
                else Complaint.assignee == assignee.user_id
            )
        if after is not None:
            stmt = stmt.where(tuple_(rank, Complaint.due_at, Complaint.id) > tuple_(*after))
        stmt = stmt.order_by(rank, Complaint.due_at, Complaint.id).limit(limit)
        return [(row[0], int(row[1])) for row in (await self.session.execute(stmt)).all()]

    async def stats(
        self, merchant_id: uuid.UUID, *, since: datetime, until: datetime, now: datetime
    ) -> dict[str, Any]:
        window = (
            Complaint.merchant_id == merchant_id,
            Complaint.opened_at >= since,
            Complaint.opened_at < until,
        )
        minutes = response_minutes()
        row = (
            await self.session.execute(
                select(
                    func.count(),
                    func.count(Complaint.responded_at),
                    func.count().filter(Complaint.responded_at <= Complaint.due_at),
                    func.avg(minutes),
                    func.percentile_cont(0.5).within_group(minutes),
                    func.percentile_cont(0.9).within_group(minutes),
                    func.count().filter(Complaint.status == "resolved"),
                    func.count().filter(Complaint.status == "closed"),
                    func.coalesce(func.sum(Complaint.satisfaction), 0),
                    func.count(Complaint.satisfaction),
                ).where(*window)
            )
        ).one()
        by_status = await self.session.execute(
            select(Complaint.status, func.count()).where(*window).group_by(Complaint.status)
        )
        by_category = await self.session.execute(
            select(Complaint.category, func.count()).where(*window).group_by(Complaint.category)
        )
        overdue = await self.session.execute(
            select(func.count()).where(
                Complaint.merchant_id == merchant_id,
                Complaint.status == "open",
                Complaint.due_at < now,
            )
        )
        return {
            "opened": int(row[0]),
            "responded": int(row[1]),
            "within_target": int(row[2]),
            "avg": float(row[3]) if row[3] is not None else None,
            "p50": float(row[4]) if row[4] is not None else None,
            "p90": float(row[5]) if row[5] is not None else None,
            "resolved": int(row[6]),
            "closed": int(row[7]),
            "satisfaction_sum": int(row[8]),
            "satisfaction_n": int(row[9]),
            "by_status": {s: int(n) for s, n in by_status.all()},
            "by_category": {c: int(n) for c, n in by_category.all()},
            "overdue_open": int(overdue.scalar_one()),
        }
