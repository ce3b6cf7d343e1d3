"""Service-desk queries: assignment, hand-over, escalation and its notices, churn-risk tasks,
per-staff figures of the monthly report."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Date, and_, cast, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from customers.models import Complaint, Customer, FollowUp, FollowUpTask, ServiceDeskNotice

OPEN_COMPLAINT = ("open", "responded")

# Customers who turned churn-risk (the analytics rule: at least two visits and more than k of
# their usual intervals since the last one) get one pending follow-up, unless one was already
# made for this lapse (a churn-risk task, due when it was made, after their last visit). The
# partial unique index on pending churn-risk tasks makes concurrent runs harmless.
CHURN_TASKS_SQL = text("""
INSERT INTO follow_up_tasks (id, merchant_id, customer_id, plan_id, due_at, method, reason,
                             status)
SELECT gen_random_uuid(), c.merchant_id, c.id, NULL, :now,
       CASE WHEN c.refuses_calls THEN 'sms' ELSE 'phone' END, 'churn_risk', 'pending'
FROM customers AS c
WHERE c.visits >= 2
  AND extract(epoch FROM CAST(:now AS timestamptz) - c.last_visit_at) / 86400.0
      > :k * c.usual_interval_days
  AND NOT EXISTS (
      SELECT 1 FROM follow_up_tasks AS t
      WHERE t.customer_id = c.id AND t.reason = 'churn_risk'
        AND (t.status = 'pending' OR t.due_at >= c.last_visit_at)
  )
ORDER BY c.total_spend DESC
LIMIT :limit
ON CONFLICT (customer_id) WHERE reason = 'churn_risk' AND status = 'pending' DO NOTHING
""")


class DeskRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # -- assignment -------------------------------------------------------------------------

    async def lock_task(self, merchant_id: uuid.UUID, task_id: uuid.UUID) -> FollowUpTask | None:
        stmt = (
            select(FollowUpTask)
            .where(FollowUpTask.merchant_id == merchant_id, FollowUpTask.id == task_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def lock_complaint(
        self, merchant_id: uuid.UUID, complaint_id: uuid.UUID
    ) -> Complaint | None:
        stmt = (
            select(Complaint)
            .where(Complaint.merchant_id == merchant_id, Complaint.id == complaint_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def open_work_of(
        self, merchant_id: uuid.UUID, user_id: uuid.UUID
    ) -> tuple[list[uuid.UUID], list[uuid.UUID]]:
        """The person's pending tasks and open complaints at the merchant, locked."""
        tasks = await self.session.execute(
            select(FollowUpTask.id)
            .where(
                FollowUpTask.merchant_id == merchant_id,
                FollowUpTask.assignee == user_id,
                FollowUpTask.status == "pending",
            )
            .order_by(FollowUpTask.due_at, FollowUpTask.id)
            .with_for_update()
        )
        complaints = await self.session.execute(
            select(Complaint.id)
            .where(
                Complaint.merchant_id == merchant_id,
                Complaint.assignee == user_id,
                Complaint.status.in_(OPEN_COMPLAINT),
            )
            .order_by(Complaint.due_at, Complaint.id)
            .with_for_update()
        )
        return list(tasks.scalars()), list(complaints.scalars())

    async def open_loads(
        self, merchant_id: uuid.UUID, user_ids: list[uuid.UUID]
    ) -> dict[uuid.UUID, int]:
        """Pending tasks plus open complaints assigned to each of these people."""
        loads = dict.fromkeys(user_ids, 0)
        tasks = await self.session.execute(
            select(FollowUpTask.assignee, func.count())
            .where(
                FollowUpTask.merchant_id == merchant_id,
                FollowUpTask.assignee.in_(user_ids),
                FollowUpTask.status == "pending",
            )
            .group_by(FollowUpTask.assignee)
        )
        complaints = await self.session.execute(
            select(Complaint.assignee, func.count())
            .where(
                Complaint.merchant_id == merchant_id,
                Complaint.assignee.in_(user_ids),
                Complaint.status.in_(OPEN_COMPLAINT),
            )
            .group_by(Complaint.assignee)
        )
        for user_id, count in [*tasks.all(), *complaints.all()]:
            if user_id is not None:
                loads[user_id] += int(count)
        return loads

    async def assign(
        self, model: type[FollowUpTask] | type[Complaint], assignments: dict[uuid.UUID, Any]
    ) -> None:
        """Set each row's assignee (one UPDATE per assignee, whatever the number of rows)."""
        by_person: dict[Any, list[uuid.UUID]] = {}
        for row_id, user_id in assignments.items():
            by_person.setdefault(user_id, []).append(row_id)
        for user_id, ids in by_person.items():
            values: dict[str, Any] = {"assignee": user_id}
            if model is Complaint:
                values["updated_at"] = func.now()
            await self.session.execute(
                update(model)
                .where(model.id.in_(ids))
                .values(**values)
                .execution_options(synchronize_session=False)
            )

    # -- triggers ---------------------------------------------------------------------------

    async def add_complaint_follow_up(self, values: dict[str, Any]) -> bool:
        """The follow-up of a resolved complaint; False when it exists already."""
        result = await self.session.execute(
            insert(FollowUpTask)
            .values(**values)
            .on_conflict_do_nothing(
                index_elements=["complaint_id"],
                index_where=text("reason = 'complaint_resolved'"),
            )
            .returning(FollowUpTask.id)
        )
        return result.first() is not None

    async def add_churn_tasks(self, *, now: datetime, k: float, limit: int) -> int:
        result = await self.session.execute(CHURN_TASKS_SQL, {"now": now, "k": k, "limit": limit})
        return int(result.rowcount)  # type: ignore[attr-defined]

    # -- escalation -------------------------------------------------------------------------

    async def escalate_overdue(self, *, now: datetime, limit: int) -> list[Any]:
        """Open complaints past their due time, not escalated yet: stamped `escalated_at`
        (once: the condition is re-checked under the row lock, and rows another run holds are
        skipped). Returns (id, merchant id, customer name, category, due_at) of each."""
        due = (
            select(Complaint.id)
            .where(
                Complaint.status == "open",
                Complaint.escalated_at.is_(None),
                Complaint.due_at < now,
            )
            .order_by(Complaint.due_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        stamped = (
            update(Complaint)
            .where(Complaint.id.in_(due), Complaint.escalated_at.is_(None))
            .values(escalated_at=now, updated_at=func.now())
            .returning(
                Complaint.id,
                Complaint.merchant_id,
                Complaint.customer_id,
                Complaint.category,
                Complaint.due_at,
            )
            .execution_options(synchronize_session=False)
            .cte("stamped")
        )
        stmt = select(
            stamped.c.id,
            stamped.c.merchant_id,
            Customer.name,
            stamped.c.category,
            stamped.c.due_at,
        ).join(Customer, Customer.id == stamped.c.customer_id)
        return list((await self.session.execute(stmt)).all())

    async def add_notices(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            await self.session.execute(
                insert(ServiceDeskNotice)
                .values(rows)
                .on_conflict_do_nothing(index_elements=["complaint_id", "user_id", "kind"])
            )

    async def lock_pending_notices(self, limit: int) -> list[ServiceDeskNotice]:
        stmt = (
            select(ServiceDeskNotice)
            .where(ServiceDeskNotice.status == "pending")
            .order_by(ServiceDeskNotice.created_at, ServiceDeskNotice.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def finish_notices(
        self, ids: list[uuid.UUID], *, status: str, channel: str | None, at: datetime | None
    ) -> None:
        if ids:
            await self.session.execute(
                update(ServiceDeskNotice)
                .where(ServiceDeskNotice.id.in_(ids))
                .values(status=status, channel=channel, sent_at=at)
                .execution_options(synchronize_session=False)
            )

    # -- per-staff figures ------------------------------------------------------------------

    async def staff_figures(
        self, merchant_id: uuid.UUID, *, since: datetime, until: datetime, tz: str
    ) -> dict[uuid.UUID, dict[str, int]]:
        """Per staff member over [since, until): follow-ups recorded (and their satisfaction),
        assigned tasks due (done, done by the end of their local due day), complaints resolved
        (attributed to the assignee, else to who handled it last; on time: answered within the
        target) and their satisfaction."""
        figures: dict[uuid.UUID, dict[str, int]] = {}

        def add(user_id: uuid.UUID | None, **values: int | None) -> None:
            if user_id is None:
                return
            row = figures.setdefault(
                user_id,
                dict.fromkeys(
                    (
                        "follow_ups_done",
                        "tasks_due",
                        "tasks_done",
                        "tasks_on_time",
                        "complaints_resolved",
                        "complaints_on_time",
                        "satisfaction_sum",
                        "satisfaction_n",
                    ),
                    0,
                ),
            )
            for key, value in values.items():
                row[key] += int(value or 0)

        follow_ups = await self.session.execute(
            select(
                FollowUp.staff_user_id,
                func.count(),
                func.coalesce(func.sum(FollowUp.satisfaction), 0),
                func.count(FollowUp.satisfaction),
            )
            .where(
                FollowUp.merchant_id == merchant_id,
                FollowUp.occurred_at >= since,
                FollowUp.occurred_at < until,
            )
            .group_by(FollowUp.staff_user_id)
        )
        for user_id, done, total, answers in follow_ups.all():
            add(user_id, follow_ups_done=done, satisfaction_sum=total, satisfaction_n=answers)

        def local_day(column: Any) -> Any:
            return cast(func.timezone(tz, column), Date)

        tasks = await self.session.execute(
            select(
                FollowUpTask.assignee,
                func.count(),
                func.count().filter(FollowUpTask.status == "done"),
                func.count().filter(
                    and_(
                        FollowUpTask.status == "done",
                        local_day(FollowUpTask.done_at) <= local_day(FollowUpTask.due_at),
                    )
                ),
            )
            .where(
                FollowUpTask.merchant_id == merchant_id,
                FollowUpTask.due_at >= since,
                FollowUpTask.due_at < until,
                FollowUpTask.status != "cancelled",
                FollowUpTask.assignee.is_not(None),
            )
            .group_by(FollowUpTask.assignee)
        )
        for user_id, due, done, on_time in tasks.all():
            add(user_id, tasks_due=due, tasks_done=done, tasks_on_time=on_time)

        who = func.coalesce(Complaint.assignee, Complaint.handled_by)
        complaints = await self.session.execute(
            select(
                who,
                func.count(),
                func.count().filter(Complaint.responded_at <= Complaint.due_at),
                func.coalesce(func.sum(Complaint.satisfaction), 0),
                func.count(Complaint.satisfaction),
            )
            .where(
                Complaint.merchant_id == merchant_id,
                Complaint.resolved_at >= since,
                Complaint.resolved_at < until,
            )
            .group_by(who)
        )
        for user_id, resolved, on_time, total, answers in complaints.all():
            add(
                user_id,
                complaints_resolved=resolved,
                complaints_on_time=on_time,
                satisfaction_sum=total,
                satisfaction_n=answers,
            )
        return figures
