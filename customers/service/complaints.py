"""Complaints: 48-hour response target, status flow, statistics, monthly service report.

Flow: open → responded → resolved or closed (resolved → closed too). Transitions are single
conditional UPDATEs, so two staff answering at once cannot both move the same complaint.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from accounts import service as accounts_service
from core.dates import check_year_month
from core.errors import InvalidInput
from core.i18n import localised
from core.ids import new_id
from core.pagination import decode_cursor, encode_cursor
from core.timezones import zone
from customers import schemas
from customers.models import Complaint
from customers.repository.complaints import ComplaintRepository
from customers.repository.desk import DeskRepository
from customers.repository.followups import FollowUpRepository
from customers.service import desk
from customers.service.activity import record_activity
from customers.service.directory import csv_line, get_customer
from customers.service.errors import (
    COMPLAINT_STATUS,
    ComplaintClosed,
    ComplaintNotFound,
    ComplaintTransitionInvalid,
)

RESPONSE_TARGET = timedelta(hours=48)
# target status -> statuses it may be reached from
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "responded": ("open",),
    "resolved": ("responded",),
    "closed": ("responded", "resolved"),
}


def may_transition(current: str, target: str) -> bool:
    return current in TRANSITIONS.get(target, ())


def complaint_schema(complaint: Complaint, now: datetime) -> schemas.Complaint:
    minutes = None
    if complaint.responded_at is not None:
        minutes = int((complaint.responded_at - complaint.opened_at).total_seconds() // 60)
    return schemas.Complaint(
        id=complaint.id,
        merchant_id=complaint.merchant_id,
        customer_id=complaint.customer_id,
        source=complaint.source,
        category=complaint.category,  # type: ignore[arg-type]
        channel=complaint.channel,  # type: ignore[arg-type]
        content=complaint.content,
        status=complaint.status,  # type: ignore[arg-type]
        opened_at=complaint.opened_at,
        due_at=complaint.due_at,
        overdue=complaint.status == "open" and complaint.due_at < now,
        response=complaint.response,
        responded_at=complaint.responded_at,
        response_minutes=minutes,
        resolution=complaint.resolution,
        resolved_at=complaint.resolved_at,
        closed_at=complaint.closed_at,
        satisfaction=complaint.satisfaction,
        assignee=complaint.assignee,
        escalated_at=complaint.escalated_at,
    )


async def record_complaint(
    session: AsyncSession,
    *,
    merchant_id: uuid.UUID,
    staff_user_id: uuid.UUID,
    staff_role: str,
    data: schemas.ComplaintCreate,
    now: datetime,
) -> Complaint:
    await get_customer(session, merchant_id=merchant_id, customer_id=data.customer_id)
    opened_at = data.opened_at or now
    if opened_at > now + timedelta(minutes=5):
        raise InvalidInput(
            localised("投诉时间不能晚于现在", "The complaint cannot be opened in the future"),
            loc=["body", "opened_at"],
        )
    await desk.check_assignment(
        session,
        merchant_id=merchant_id,
        caller_id=staff_user_id,
        caller_role=staff_role,
        current=None,
        assignee=data.assignee,
    )
    return await ComplaintRepository(session).add(
        Complaint(
            merchant_id=merchant_id,
            customer_id=data.customer_id,
            source="staff",
            category=data.category,
            channel=data.channel,
            content=data.content,
            status="open",
            opened_at=opened_at,
            due_at=opened_at + RESPONSE_TARGET,
            recorded_by=staff_user_id,
            assignee=data.assignee,
        )
    )


async def open_my_complaint(
    session: AsyncSession, *, user_id: uuid.UUID, data: schemas.MyComplaintCreate, now: datetime
) -> Complaint:
    """A consumer complains about a merchant; they become (or stay) its customer."""
    await accounts_service.get_merchant(session, merchant_id=data.merchant_id)
    complaint_id = new_id()
    customer_id = await record_activity(
        session,
        merchant_id=data.merchant_id,
        user_id=user_id,
        kind="complaint",
        at=now,
        reference_id=complaint_id,
    )
    return await ComplaintRepository(session).add(
        Complaint(
            id=complaint_id,
            merchant_id=data.merchant_id,
            customer_id=customer_id,
            source="customer",
            category=data.category,
            channel="app",
            content=data.content,
            status="open",
            opened_at=now,
            due_at=now + RESPONSE_TARGET,
        )
    )


async def my_complaints(session: AsyncSession, *, user_id: uuid.UUID) -> list[Complaint]:
    return await ComplaintRepository(session).of_user(user_id)


async def update_complaint(
    session: AsyncSession,
    *,
    merchant_id: uuid.UUID,
    complaint_id: uuid.UUID,
    staff_user_id: uuid.UUID,
    staff_role: str,
    data: schemas.ComplaintUpdate,
    now: datetime,
) -> Complaint:
    repo = ComplaintRepository(session)
    values: dict[str, Any] = data.model_dump(exclude_unset=True, exclude={"status", "assignee"})
    values = {k: v for k, v in values.items() if v is not None}
    if "assignee" in data.model_fields_set:
        # locked so that the clerk rules (take if free, give back if theirs) see the truth
        locked = await DeskRepository(session).lock_complaint(merchant_id, complaint_id)
        if locked is None:
            raise ComplaintNotFound()
        await desk.check_assignment(
            session,
            merchant_id=merchant_id,
            caller_id=staff_user_id,
            caller_role=staff_role,
            current=locked.assignee,
            assignee=data.assignee,
        )
        values["assignee"] = data.assignee
    target = data.status
    if target is None:
        if not values:
            raise InvalidInput(localised("没有要修改的内容", "Nothing to change"), loc=["body"])
        from_statuses: tuple[str, ...] = ("open", "responded", "resolved")
    else:
        from_statuses = TRANSITIONS.get(target, ())
        values["status"] = target
        values["handled_by"] = staff_user_id
        if target == "responded":
            if not data.response:
                raise InvalidInput(
                    localised("请填写回复内容", "Write the response to the customer"),
                    loc=["body", "response"],
                )
            values["responded_at"] = now
        elif target == "resolved":
            values["resolved_at"] = now
        elif target == "closed":
            values["closed_at"] = now
    updated = await repo.transition(
        merchant_id=merchant_id,
        complaint_id=complaint_id,
        from_statuses=from_statuses,
        values=values,
    )
    if updated is not None:
        if target == "resolved":
            await desk.follow_up_resolved_complaint(
                session, complaint=updated, resolver_id=staff_user_id, now=now
            )
        return updated
    current = await repo.get(merchant_id, complaint_id)
    if current is None:
        raise ComplaintNotFound()
    if target is None:
        raise ComplaintClosed()
    was, to = COMPLAINT_STATUS.say(current.status), COMPLAINT_STATUS.say(target)
    raise ComplaintTransitionInvalid(
        localised(f"{was}的投诉不能改为{to}", f"A complaint that is {was} cannot become {to}")
    )


async def get_complaint(
    session: AsyncSession, *, merchant_id: uuid.UUID, complaint_id: uuid.UUID
) -> Complaint:
    complaint = await ComplaintRepository(session).get(merchant_id, complaint_id)
    if complaint is None:
        raise ComplaintNotFound()
    return complaint


async def list_complaints(
    session: AsyncSession,
    *,
    merchant_id: uuid.UUID,
    status: str | None,
    customer_id: uuid.UUID | None,
    cursor: str | None,
    limit: int,
    now: datetime,
    assignee: desk.AssigneeFilter | None = None,
) -> tuple[list[schemas.Complaint], str | None]:
    """Overdue unanswered complaints first, then open, responded, finished; by due time."""
    values = decode_cursor(cursor, ("rank", "due", "id"))
    after = None
    if values is not None:
        after = (
            int(values["rank"]),
            datetime.fromisoformat(values["due"]),
            uuid.UUID(values["id"]),
        )
    rows = await ComplaintRepository(session).page(
        merchant_id=merchant_id,
        now=now,
        status=status,
        customer_id=customer_id,
        assignee=assignee,
        after=after,
        limit=limit + 1,
    )
    items = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        last, rank = items[-1]
        next_cursor = encode_cursor(
            {"rank": rank, "due": last.due_at.isoformat(), "id": str(last.id)}
        )
    return [complaint_schema(c, now) for c, _ in items], next_cursor


async def complaint_stats(
    session: AsyncSession,
    *,
    merchant_id: uuid.UUID,
    since: datetime | None,
    until: datetime | None,
    now: datetime,
) -> schemas.ComplaintStats:
    until = until or now
    since = since or until - timedelta(days=30)
    figures = await ComplaintRepository(session).stats(
        merchant_id, since=since, until=until, now=now
    )
    responded = figures["responded"]
    return schemas.ComplaintStats(
        since=since,
        until=until,
        opened=figures["opened"],
        by_status=figures["by_status"],
        by_category=figures["by_category"],
        overdue_open=figures["overdue_open"],
        responded=responded,
        responded_within_target=figures["within_target"],
        within_target_share=round(figures["within_target"] / responded, 4) if responded else None,
        response_minutes_avg=_round(figures["avg"]),
        response_minutes_p50=_round(figures["p50"]),
        response_minutes_p90=_round(figures["p90"]),
    )


def _round(value: float | None) -> float | None:
    return round(value, 1) if value is not None else None


# -- monthly customer-service report --------------------------------------------------------


def month_bounds(month: str, tz: str) -> tuple[datetime, datetime]:
    try:
        check_year_month(month)
    except ValueError as exc:
        raise InvalidInput(
            localised("月份格式应为 YYYY-MM", "The month is written YYYY-MM"),
            loc=["query", "month"],
        ) from exc
    year, mon = int(month[:4]), int(month[5:])
    first = date(year, mon, 1)
    following = date(year + (mon == 12), mon % 12 + 1, 1)
    local = zone(tz)
    return datetime.combine(first, time(0), tzinfo=local), datetime.combine(
        following, time(0), tzinfo=local
    )


async def service_report(
    session: AsyncSession, *, merchant_id: uuid.UUID, month: str | None, now: datetime
) -> schemas.ServiceReport:
    tz = await accounts_service.merchant_timezone(session, merchant_id=merchant_id)
    month = month or now.astimezone(zone(tz)).strftime("%Y-%m")
    since, until = month_bounds(month, tz)
    follow = await FollowUpRepository(session).month_figures(merchant_id, since=since, until=until)
    comp = await ComplaintRepository(session).stats(merchant_id, since=since, until=until, now=now)
    answers = follow["satisfaction_n"] + comp["satisfaction_n"]
    total = follow["satisfaction_sum"] + comp["satisfaction_sum"]
    return schemas.ServiceReport(
        merchant_id=merchant_id,
        month=month,
        timezone=tz,
        follow_ups_done=sum(follow["by_method"].values()),
        follow_ups_by_method=follow["by_method"],
        follow_ups_with_issues=follow["with_issues"],
        follow_up_tasks_due=follow["tasks_due"],
        follow_up_tasks_done=follow["tasks_done"],
        complaints_opened=comp["opened"],
        complaints_resolved=comp["resolved"],
        complaints_closed=comp["closed"],
        complaints_responded_within_target=comp["within_target"],
        complaint_response_minutes_avg=_round(comp["avg"]),
        satisfaction_avg=round(total / answers, 2) if answers else None,
        satisfaction_responses=answers,
        by_staff=await desk.staff_figures(
            session, merchant_id=merchant_id, since=since, until=until, tz=tz
        ),
    )


def report_csv(report: schemas.ServiceReport) -> bytes:
    """metric,value rows (UTF-8 with BOM): one month reads well in a spreadsheet. Per-staff
    figures are rows `by_staff.<staff user id>.<figure>` (name first), so the file keeps its
    two columns."""
    lines = ["\ufeff" + csv_line(["metric", "value"])]
    for key, value in report.model_dump(mode="json", exclude={"by_staff"}).items():
        if isinstance(value, dict):
            lines += [csv_line([f"{key}.{k}", v]) for k, v in sorted(value.items())]
        else:
            lines.append(csv_line([key, "" if value is None else value]))
    for staff in report.by_staff:
        figures = staff.model_dump(mode="json", exclude={"staff_user_id"})
        lines += [
            csv_line([f"by_staff.{staff.staff_user_id}.{k}", "" if v is None else v])
            for k, v in figures.items()
        ]
    return "".join(lines).encode()
