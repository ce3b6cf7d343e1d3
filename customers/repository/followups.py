"""Follow-up records, plans and scheduled tasks."""

from __future__ import annotations

import uuid
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import func, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.bulk import row_batches
from core.lean import Connection, Statement
from customers.models import Customer, FollowUp, FollowUpPlan, FollowUpTask

# One statement schedules every interval plan: for each customer at the plan's interest level
# with no pending task from the plan, a task N days after their last follow-up (or, if never
# followed up, N days after they became a customer). The unique key makes re-runs harmless.
SCHEDULE_INTERVAL_SQL = """
INSERT INTO follow_up_tasks (id, merchant_id, customer_id, plan_id, due_at, method, reason,
                             status)
SELECT gen_random_uuid(), p.merchant_id, c.id, p.id,
       coalesce(
           (SELECT max(f.occurred_at) FROM follow_ups AS f WHERE f.customer_id = c.id),
           c.first_seen_at
       ) + make_interval(days => p.every_days),
       p.method, 'interest_level', 'pending'
FROM follow_up_plans AS p
JOIN customers AS c ON c.merchant_id = p.merchant_id AND c.interest_level = p.interest_level
WHERE p.active AND p.trigger = 'interest_level' {merchant_filter}
  AND NOT EXISTS (
      SELECT 1 FROM follow_up_tasks AS t
      WHERE t.plan_id = p.id AND t.customer_id = c.id AND t.status = 'pending'
  )
ON CONFLICT (plan_id, customer_id, due_at) DO NOTHING
"""

# A customer's first purchase: one task per active first-purchase plan and offset, in one
# statement (it runs inside counter transactions and redemptions). The parameters are typed in
# the text: a driver that leaves typing to the server (asyncpg, the benches' reference) would
# otherwise take `:at + interval` for an interval.
SCHEDULE_FIRST_PURCHASE_SQL = text("""
INSERT INTO follow_up_tasks (id, merchant_id, customer_id, plan_id, due_at, method, reason,
                             status)
SELECT gen_random_uuid(), p.merchant_id, CAST(:customer_id AS uuid), p.id,
       CAST(:at AS timestamptz) + make_interval(days => o.days), p.method, 'first_purchase',
       'pending'
FROM follow_up_plans AS p, unnest(p.offsets_days) AS o(days)
WHERE p.merchant_id = CAST(:merchant_id AS uuid) AND p.active AND p.trigger = 'first_purchase'
ON CONFLICT (plan_id, customer_id, due_at) DO NOTHING
""")


@cache
def _schedule_first_purchase() -> Statement:
    return Statement(SCHEDULE_FIRST_PURCHASE_SQL)


async def schedule_first_purchase(
    connection: Connection, *, merchant_id: uuid.UUID, customer_id: uuid.UUID, at: datetime
) -> int:
    """One task per first-purchase plan offset of the merchant (on the transaction's driver
    connection, see record_event)."""
    params = {"merchant_id": merchant_id, "customer_id": customer_id, "at": at}
    return await _schedule_first_purchase().run(connection, params)


class FollowUpRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, follow_up: FollowUp) -> FollowUp:
        self.session.add(follow_up)
        await self.session.flush()
        await self.session.refresh(follow_up)
        return follow_up

    async def page(
        self,
        *,
        merchant_id: uuid.UUID,
        customer_id: uuid.UUID | None,
        since: datetime | None,
        until: datetime | None,
        after: tuple[datetime, uuid.UUID] | None,
        limit: int,
    ) -> list[FollowUp]:
        stmt = select(FollowUp).where(FollowUp.merchant_id == merchant_id)
        if customer_id is not None:
            stmt = stmt.where(FollowUp.customer_id == customer_id)
        if since is not None:
            stmt = stmt.where(FollowUp.occurred_at >= since)
        if until is not None:
            stmt = stmt.where(FollowUp.occurred_at < until)
        if after is not None:
            stmt = stmt.where(tuple_(FollowUp.occurred_at, FollowUp.id) < tuple_(*after))
        stmt = stmt.order_by(FollowUp.occurred_at.desc(), FollowUp.id.desc()).limit(limit)
        return list((await self.session.execute(stmt)).scalars())

    # -- plans ------------------------------------------------------------------------------

    async def add_plan(self, plan: FollowUpPlan) -> FollowUpPlan:
        self.session.add(plan)
        await self.session.flush()
        await self.session.refresh(plan)
        return plan

    async def plans(self, merchant_id: uuid.UUID) -> list[FollowUpPlan]:
        stmt = (
            select(FollowUpPlan)
            .where(FollowUpPlan.merchant_id == merchant_id)
            .order_by(FollowUpPlan.created_at, FollowUpPlan.id)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def set_plan_active(
        self, merchant_id: uuid.UUID, plan_id: uuid.UUID, active: bool
    ) -> FollowUpPlan | None:
        stmt = (
            update(FollowUpPlan)
            .where(FollowUpPlan.merchant_id == merchant_id, FollowUpPlan.id == plan_id)
            .values(active=active)
            .returning(FollowUpPlan)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def cancel_plan_tasks(self, plan_id: uuid.UUID) -> None:
        await self.session.execute(
            update(FollowUpTask)
            .where(FollowUpTask.plan_id == plan_id, FollowUpTask.status == "pending")
            .values(status="cancelled")
        )

    # -- tasks ------------------------------------------------------------------------------

    async def add_tasks(self, rows: list[dict[str, Any]]) -> None:
        for batch in row_batches(rows):  # under the bind-parameter limit (core.bulk)
            await self.session.execute(
                insert(FollowUpTask)
                .values(list(batch))
                .on_conflict_do_nothing(index_elements=["plan_id", "customer_id", "due_at"])
            )

    async def schedule_interval_plans(self, *, merchant_id: uuid.UUID | None) -> int:
        sql = SCHEDULE_INTERVAL_SQL.format(
            merchant_filter="AND p.merchant_id = :merchant_id" if merchant_id else ""
        )
        params = {"merchant_id": merchant_id} if merchant_id else {}
        result = await self.session.execute(text(sql), params)
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def lock_pending_task(
        self, merchant_id: uuid.UUID, task_id: uuid.UUID
    ) -> FollowUpTask | None:
        stmt = (
            select(FollowUpTask)
            .where(FollowUpTask.merchant_id == merchant_id, FollowUpTask.id == task_id)
            .with_for_update()
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def complete_tasks(
        self,
        *,
        merchant_id: uuid.UUID,
        customer_id: uuid.UUID,
        task_id: uuid.UUID | None,
        due_before: datetime,
        follow_up_id: uuid.UUID,
        at: datetime,
    ) -> int:
        """Mark the given task, or every pending task of the customer due by then, done."""
        stmt = update(FollowUpTask).where(
            FollowUpTask.merchant_id == merchant_id,
            FollowUpTask.customer_id == customer_id,
            FollowUpTask.status == "pending",
        )
        if task_id is not None:
            stmt = stmt.where(FollowUpTask.id == task_id)
        else:
            stmt = stmt.where(FollowUpTask.due_at < due_before)
        result = await self.session.execute(
            stmt.values(status="done", follow_up_id=follow_up_id, done_at=at)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def open_tasks(self, merchant_id: uuid.UUID, customer_id: uuid.UUID) -> list[Any]:
        stmt = (
            select(FollowUpTask)
            .where(
                FollowUpTask.merchant_id == merchant_id,
                FollowUpTask.customer_id == customer_id,
                FollowUpTask.status == "pending",
            )
            .order_by(FollowUpTask.due_at, FollowUpTask.id)
            .limit(20)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def due(
        self, merchant_id: uuid.UUID, *, until: datetime, limit: int, assignee: Any = None
    ) -> list[Any]:
        """Pending tasks due before `until`; `assignee` (an AssigneeFilter) narrows them to
        one person's or to unassigned ones."""
        stmt = (
            select(FollowUpTask, Customer.name, Customer.phone, Customer.refuses_calls)
            .join(Customer, Customer.id == FollowUpTask.customer_id)
            .where(
                FollowUpTask.merchant_id == merchant_id,
                FollowUpTask.status == "pending",
                FollowUpTask.due_at < until,
            )
            .order_by(FollowUpTask.due_at, FollowUpTask.id)
            .limit(limit)
        )
        if assignee is not None:
            stmt = stmt.where(
                FollowUpTask.assignee.is_(None)
                if assignee.unassigned
                else FollowUpTask.assignee == assignee.user_id
            )
        return list((await self.session.execute(stmt)).all())

    async def month_figures(
        self, merchant_id: uuid.UUID, *, since: datetime, until: datetime
    ) -> dict[str, Any]:
        by_method = await self.session.execute(
            select(FollowUp.method, func.count())
            .where(
                FollowUp.merchant_id == merchant_id,
                FollowUp.occurred_at >= since,
                FollowUp.occurred_at < until,
            )
            .group_by(FollowUp.method)
        )
        totals = (
            await self.session.execute(
                select(
                    func.count().filter(FollowUp.issues_found.is_not(None)),
                    func.coalesce(func.sum(FollowUp.satisfaction), 0),
                    func.count(FollowUp.satisfaction),
                ).where(
                    FollowUp.merchant_id == merchant_id,
                    FollowUp.occurred_at >= since,
                    FollowUp.occurred_at < until,
                )
            )
        ).one()
        tasks = (
            await self.session.execute(
                select(
                    func.count(),
                    func.count().filter(FollowUpTask.status == "done"),
                ).where(
                    FollowUpTask.merchant_id == merchant_id,
                    FollowUpTask.due_at >= since,
                    FollowUpTask.due_at < until,
                    FollowUpTask.status != "cancelled",
                )
            )
        ).one()
        return {
            "by_method": {m: int(n) for m, n in by_method.all()},
            "with_issues": int(totals[0]),
            "satisfaction_sum": int(totals[1] or 0),
            "satisfaction_n": int(totals[2]),
            "tasks_due": int(tasks[0]),
            "tasks_done": int(tasks[1]),
        }
