"""The service desk: who does each follow-up task and complaint (`assignee`), the hand-over
when a staff member leaves, the escalation of overdue complaints, and the follow-ups that a
resolved complaint and a customer turning churn-risk trigger.

Invariants:
- an assignee is a staff member of the merchant (checked when set); managers assign anyone,
  clerks only take unassigned work or give back their own;
- removing a staff member hands their pending tasks and open complaints to the owners and
  managers (least loaded first) in the removing transaction (accounts' staff-removed hook);
- a complaint still `open` past its due time is escalated once: `escalated_at` is stamped by a
  conditional UPDATE (rows another run holds are skipped) and one notice per manager is written
  to `service_desk_notices` in the same transaction; push's job sends them (devices, else SMS);
- one follow-up per resolved complaint and one pending churn-risk follow-up per customer
  (partial unique indexes), however often and concurrently the triggers fire.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from accounts import service as accounts
from core.ids import new_id
from core.timezones import zone
from customers import schemas
from customers.models import Complaint, FollowUpTask
from customers.repository.desk import DeskRepository
from customers.repository.directory import CustomerRepository
from customers.service.analytics import DEFAULT_CHURN_K
from customers.service.errors import (
    AssigneeFilterInvalid,
    AssigneeNotStaff,
    AssignmentManagersOnly,
    FollowUpTaskNotFound,
    FollowUpTaskNotPending,
)

# the seed: 投诉客户回访 — after a complaint is dealt with, check that the remedy was carried out
COMPLAINT_FOLLOW_UP_AFTER = timedelta(days=3)
ESCALATION_KIND = "complaint_escalated"
MANAGER_ROLES = ("owner", "manager")


@dataclass(frozen=True)
class AssigneeFilter:
    """`assignee=<id>|me` (that person's work) or `assignee=none` (nobody's yet)."""

    user_id: uuid.UUID | None
    unassigned: bool = False


def parse_assignee_filter(raw: str | None, caller_id: uuid.UUID) -> AssigneeFilter | None:
    if raw is None:
        return None
    text = raw.strip().lower()
    if text == "none":
        return AssigneeFilter(None, unassigned=True)
    if text == "me":
        return AssigneeFilter(caller_id)
    try:
        return AssigneeFilter(uuid.UUID(text))
    except ValueError as exc:
        raise AssigneeFilterInvalid() from exc


async def check_assignment(
    session: AsyncSession,
    *,
    merchant_id: uuid.UUID,
    caller_id: uuid.UUID,
    caller_role: str,
    current: uuid.UUID | None,
    assignee: uuid.UUID | None,
) -> None:
    """422 `assignee_not_staff` for someone who is not staff here; 403
    `assignment_managers_only` for a clerk giving work to someone else or taking another's."""
    if assignee is not None and assignee != current:
        role = await accounts.staff_role(session, merchant_id=merchant_id, user_id=assignee)
        if role is None:
            raise AssigneeNotStaff()
    if caller_role in MANAGER_ROLES or assignee == current:
        return
    taking = assignee == caller_id and current is None
    giving_back = assignee is None and current == caller_id
    if not (taking or giving_back):
        raise AssignmentManagersOnly()


def task_schema(task: FollowUpTask) -> schemas.FollowUpTask:
    return schemas.FollowUpTask.model_validate(task)


async def assign_task(
    session: AsyncSession,
    *,
    merchant_id: uuid.UUID,
    task_id: uuid.UUID,
    caller_id: uuid.UUID,
    caller_role: str,
    assignee: uuid.UUID | None,
) -> FollowUpTask:
    repo = DeskRepository(session)
    task = await repo.lock_task(merchant_id, task_id)
    if task is None:
        raise FollowUpTaskNotFound()
    if task.status != "pending":
        raise FollowUpTaskNotPending()
    await check_assignment(
        session,
        merchant_id=merchant_id,
        caller_id=caller_id,
        caller_role=caller_role,
        current=task.assignee,
        assignee=assignee,
    )
    task.assignee = assignee
    await session.flush()
    return task


async def hand_over_work(session: AsyncSession, merchant_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """accounts' staff-removed hook: the leaver's pending tasks and open complaints go to the
    owners and managers, each item to the one with the least open work at that moment."""
    repo = DeskRepository(session)
    tasks, complaints = await repo.open_work_of(merchant_id, user_id)
    if not tasks and not complaints:
        return
    managers = await accounts.managers_of(session, merchant_id=merchant_id)
    managers = [m for m in managers if m != user_id]
    loads = await repo.open_loads(merchant_id, managers)

    def next_manager() -> uuid.UUID | None:
        if not managers:  # cannot happen (a merchant keeps an owner): leave it unassigned
            return None
        chosen = min(managers, key=lambda m: (loads[m], managers.index(m)))
        loads[chosen] += 1
        return chosen

    await repo.assign(Complaint, {c: next_manager() for c in complaints})
    await repo.assign(FollowUpTask, {t: next_manager() for t in tasks})


async def follow_up_resolved_complaint(
    session: AsyncSession, *, complaint: Complaint, resolver_id: uuid.UUID, now: datetime
) -> bool:
    """A resolved complaint schedules a follow-up (by SMS for a customer who refuses calls)
    for its assignee, else whoever resolved it; once per complaint."""
    customer = await CustomerRepository(session).get(complaint.merchant_id, complaint.customer_id)
    method = "sms" if customer is not None and customer.refuses_calls else "phone"
    return await DeskRepository(session).add_complaint_follow_up(
        {
            "id": new_id(),
            "merchant_id": complaint.merchant_id,
            "customer_id": complaint.customer_id,
            "plan_id": None,
            "due_at": now + COMPLAINT_FOLLOW_UP_AFTER,
            "method": method,
            "reason": "complaint_resolved",
            "status": "pending",
            "assignee": complaint.assignee or resolver_id,
            "complaint_id": complaint.id,
        }
    )


async def schedule_churn_follow_ups(
    session: AsyncSession, *, now: datetime, k: float = DEFAULT_CHURN_K, limit: int = 5000
) -> int:
    """A follow-up task, due now, for each customer who turned churn-risk (the analytics churn
    list's rule) since their last visit and has none yet; returns how many were made."""
    return await DeskRepository(session).add_churn_tasks(now=now, k=k, limit=limit)


# -- escalation -----------------------------------------------------------------------------

CATEGORY_ZH = {
    "service": "服务",
    "quality": "质量",
    "price": "价格",
    "hygiene": "卫生",
    "waiting": "等候",
    "staff_attitude": "服务态度",
    "billing": "收费",
    "other": "其他",
}


async def escalate_overdue_complaints(
    session: AsyncSession, *, now: datetime, limit: int = 500
) -> int:
    """Stamp `escalated_at` on open complaints past their due time and write one notice per
    owner/manager; returns how many complaints were escalated by this run."""
    repo = DeskRepository(session)
    rows = await repo.escalate_overdue(now=now, limit=limit)
    managers: dict[uuid.UUID, list[uuid.UUID]] = {}
    zones: dict[uuid.UUID, str] = {}
    notices = []
    for complaint_id, merchant_id, customer_name, category, due_at in rows:
        if merchant_id not in managers:
            managers[merchant_id] = await accounts.managers_of(session, merchant_id=merchant_id)
            zones[merchant_id] = await accounts.merchant_timezone(session, merchant_id=merchant_id)
        due_local = due_at.astimezone(zone(zones[merchant_id]))
        body = (
            f"{customer_name or '客户'}的{CATEGORY_ZH.get(category, category)}投诉"
            f"已超过 {due_local:%m-%d %H:%M} 的回复时限，请尽快处理"
        )
        notices += [
            {
                "id": new_id(),
                "merchant_id": merchant_id,
                "complaint_id": complaint_id,
                "user_id": manager,
                "kind": ESCALATION_KIND,
                "title": "投诉超时升级",
                "body": body,
                "status": "pending",
            }
            for manager in managers[merchant_id]
        ]
    await repo.add_notices(notices)
    return len(rows)


@dataclass(frozen=True)
class PendingNotice:
    id: uuid.UUID
    merchant_id: uuid.UUID
    complaint_id: uuid.UUID
    user_id: uuid.UUID
    kind: str
    title: str
    body: str


async def lock_pending_notices(session: AsyncSession, *, limit: int = 100) -> list[PendingNotice]:
    """Notices to send, locked for the caller's transaction (push sends them and calls
    `finish_notices` before it commits; a crash leaves them pending: at least once)."""
    rows = await DeskRepository(session).lock_pending_notices(limit)
    return [
        PendingNotice(r.id, r.merchant_id, r.complaint_id, r.user_id, r.kind, r.title, r.body)
        for r in rows
    ]


async def finish_notices(
    session: AsyncSession,
    *,
    sent: dict[str, list[uuid.UUID]],
    failed: list[uuid.UUID],
    now: datetime,
) -> None:
    """`sent` by channel (push, sms); `failed`: no device and no phone, or refused."""
    repo = DeskRepository(session)
    for channel, ids in sent.items():
        await repo.finish_notices(ids, status="sent", channel=channel, at=now)
    await repo.finish_notices(failed, status="failed", channel=None, at=None)


# -- per-staff figures of the monthly report ------------------------------------------------


async def staff_figures(
    session: AsyncSession, *, merchant_id: uuid.UUID, since: datetime, until: datetime, tz: str
) -> list[schemas.StaffServiceFigures]:
    figures = await DeskRepository(session).staff_figures(
        merchant_id, since=since, until=until, tz=tz
    )
    names = {
        s.user_id: s.display_name
        for s in await accounts.list_staff(session, merchant_id=merchant_id)
    }
    items = []
    for user_id, f in figures.items():
        name = names.get(user_id)
        if name is None:  # a former staff member: still credited with their work
            try:
                name = (await accounts.get_user(session, user_id=user_id)).display_name
            except accounts.UserNotFound:
                name = None
        answers = f["satisfaction_n"]
        items.append(
            schemas.StaffServiceFigures(
                staff_user_id=user_id,
                name=name,
                follow_ups_done=f["follow_ups_done"],
                tasks_due=f["tasks_due"],
                tasks_done=f["tasks_done"],
                tasks_on_time=f["tasks_on_time"],
                complaints_resolved=f["complaints_resolved"],
                complaints_on_time=f["complaints_on_time"],
                satisfaction_avg=round(f["satisfaction_sum"] / answers, 2) if answers else None,
                satisfaction_responses=answers,
            )
        )
    items.sort(
        key=lambda i: (
            -(i.follow_ups_done + i.tasks_done + i.complaints_resolved),
            i.name or "",
            str(i.staff_user_id),
        )
    )
    return items
