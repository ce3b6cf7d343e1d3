"""Follow-ups, follow-up plans, complaints and the monthly customer-service report."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status
from fastapi.responses import Response

from accounts.permissions import AnyStaff, CurrentUser, ManagerStaff
from core.database import SessionDep
from core.dates import CalendarDate, CalendarDateTime, YearMonth
from core.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page
from core.timezones import utcnow
from customers import schemas
from customers.service import complaints, desk, followups

router = APIRouter(prefix="/v1", tags=["customer service"])
M = "/merchants/{merchant_id}"
AssigneeQuery = Annotated[
    str | None,
    Query(max_length=40, description="A staff user id, `me`, or `none` (unassigned only)"),
]


# -- follow-ups -----------------------------------------------------------------------------


@router.post(
    M + "/follow-ups", status_code=status.HTTP_201_CREATED, response_model=schemas.FollowUp
)
async def create_follow_up(
    merchant_id: uuid.UUID, data: schemas.FollowUpCreate, staff: AnyStaff, session: SessionDep
) -> schemas.FollowUp:
    record = await followups.create_follow_up(
        session, merchant_id=staff.merchant_id, caller_id=staff.user_id, data=data, now=utcnow()
    )
    return followups.follow_up_schema(record)


@router.get(M + "/follow-ups", response_model=Page[schemas.FollowUp])
async def list_follow_ups(
    merchant_id: uuid.UUID,
    staff: AnyStaff,
    session: SessionDep,
    customer_id: uuid.UUID | None = None,
    since: CalendarDateTime | None = None,
    until: CalendarDateTime | None = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Page[schemas.FollowUp]:
    items, next_cursor = await followups.list_follow_ups(
        session,
        merchant_id=staff.merchant_id,
        customer_id=customer_id,
        since=since,
        until=until,
        cursor=cursor,
        limit=limit,
    )
    return Page(items=items, next_cursor=next_cursor)


@router.get(M + "/follow-ups/due", response_model=schemas.DueList)
async def due_follow_ups(
    merchant_id: uuid.UUID,
    staff: AnyStaff,
    session: SessionDep,
    day: Annotated[
        CalendarDate | None, Query(alias="date", description="Local date; default today")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
    assignee: AssigneeQuery = None,
) -> schemas.DueList:
    """Pending follow-ups due by the end of the day (merchant's time zone), overdue included."""
    return await followups.due_list(
        session,
        merchant_id=staff.merchant_id,
        day=day,
        now=utcnow(),
        mask=not staff.at_least("manager"),
        limit=limit,
        assignee=desk.parse_assignee_filter(assignee, staff.user_id),
    )


@router.patch(M + "/follow-up-tasks/{task_id}", response_model=schemas.FollowUpTask)
async def assign_follow_up_task(
    merchant_id: uuid.UUID,
    task_id: uuid.UUID,
    data: schemas.FollowUpTaskUpdate,
    staff: AnyStaff,
    session: SessionDep,
) -> schemas.FollowUpTask:
    """Assign a pending task: managers to any staff member; clerks take an unassigned one or
    give back their own."""
    task = await desk.assign_task(
        session,
        merchant_id=staff.merchant_id,
        task_id=task_id,
        caller_id=staff.user_id,
        caller_role=staff.role,
        assignee=data.assignee,
    )
    return desk.task_schema(task)


@router.post(
    M + "/follow-up-plans", status_code=status.HTTP_201_CREATED, response_model=schemas.FollowUpPlan
)
async def create_plan(
    merchant_id: uuid.UUID,
    data: schemas.FollowUpPlanCreate,
    staff: ManagerStaff,
    session: SessionDep,
) -> schemas.FollowUpPlan:
    plan = await followups.create_plan(session, merchant_id=staff.merchant_id, data=data)
    return schemas.FollowUpPlan.model_validate(plan)


@router.get(M + "/follow-up-plans", response_model=list[schemas.FollowUpPlan])
async def list_plans(
    merchant_id: uuid.UUID, staff: AnyStaff, session: SessionDep
) -> list[schemas.FollowUpPlan]:
    plans = await followups.list_plans(session, merchant_id=staff.merchant_id)
    return [schemas.FollowUpPlan.model_validate(p) for p in plans]


@router.patch(M + "/follow-up-plans/{plan_id}", response_model=schemas.FollowUpPlan)
async def update_plan(
    merchant_id: uuid.UUID,
    plan_id: uuid.UUID,
    data: schemas.FollowUpPlanUpdate,
    staff: ManagerStaff,
    session: SessionDep,
) -> schemas.FollowUpPlan:
    plan = await followups.set_plan_active(
        session, merchant_id=staff.merchant_id, plan_id=plan_id, active=data.active
    )
    return schemas.FollowUpPlan.model_validate(plan)


# -- complaints -----------------------------------------------------------------------------


@router.post(
    M + "/complaints", status_code=status.HTTP_201_CREATED, response_model=schemas.Complaint
)
async def record_complaint(
    merchant_id: uuid.UUID, data: schemas.ComplaintCreate, staff: AnyStaff, session: SessionDep
) -> schemas.Complaint:
    now = utcnow()
    complaint = await complaints.record_complaint(
        session,
        merchant_id=staff.merchant_id,
        staff_user_id=staff.user_id,
        staff_role=staff.role,
        data=data,
        now=now,
    )
    return complaints.complaint_schema(complaint, now)


@router.get(M + "/complaints", response_model=Page[schemas.Complaint])
async def list_complaints(
    merchant_id: uuid.UUID,
    staff: AnyStaff,
    session: SessionDep,
    status_: Annotated[schemas.ComplaintStatus | None, Query(alias="status")] = None,
    customer_id: uuid.UUID | None = None,
    assignee: AssigneeQuery = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Page[schemas.Complaint]:
    """Overdue unanswered complaints first, then open, responded, finished; by due time."""
    items, next_cursor = await complaints.list_complaints(
        session,
        merchant_id=staff.merchant_id,
        status=status_,
        customer_id=customer_id,
        assignee=desk.parse_assignee_filter(assignee, staff.user_id),
        cursor=cursor,
        limit=limit,
        now=utcnow(),
    )
    return Page(items=items, next_cursor=next_cursor)


@router.get(M + "/complaints/stats", response_model=schemas.ComplaintStats)
async def complaint_stats(
    merchant_id: uuid.UUID,
    staff: ManagerStaff,
    session: SessionDep,
    since: CalendarDateTime | None = None,
    until: CalendarDateTime | None = None,
) -> schemas.ComplaintStats:
    """Opened in [since, until) (default the last 30 days): response times, 48-hour target."""
    return await complaints.complaint_stats(
        session, merchant_id=staff.merchant_id, since=since, until=until, now=utcnow()
    )


@router.get(M + "/complaints/{complaint_id}", response_model=schemas.Complaint)
async def get_complaint(
    merchant_id: uuid.UUID, complaint_id: uuid.UUID, staff: AnyStaff, session: SessionDep
) -> schemas.Complaint:
    complaint = await complaints.get_complaint(
        session, merchant_id=staff.merchant_id, complaint_id=complaint_id
    )
    return complaints.complaint_schema(complaint, utcnow())


@router.patch(M + "/complaints/{complaint_id}", response_model=schemas.Complaint)
async def update_complaint(
    merchant_id: uuid.UUID,
    complaint_id: uuid.UUID,
    data: schemas.ComplaintUpdate,
    staff: AnyStaff,
    session: SessionDep,
) -> schemas.Complaint:
    now = utcnow()
    complaint = await complaints.update_complaint(
        session,
        merchant_id=staff.merchant_id,
        complaint_id=complaint_id,
        staff_user_id=staff.user_id,
        staff_role=staff.role,
        data=data,
        now=now,
    )
    return complaints.complaint_schema(complaint, now)


@router.post(
    "/me/complaints", status_code=status.HTTP_201_CREATED, response_model=schemas.Complaint
)
async def open_my_complaint(
    data: schemas.MyComplaintCreate, principal: CurrentUser, session: SessionDep
) -> schemas.Complaint:
    now = utcnow()
    complaint = await complaints.open_my_complaint(
        session, user_id=principal.user_id, data=data, now=now
    )
    return complaints.complaint_schema(complaint, now)


@router.get("/me/complaints", response_model=list[schemas.Complaint])
async def my_complaints(principal: CurrentUser, session: SessionDep) -> list[schemas.Complaint]:
    now = utcnow()
    rows = await complaints.my_complaints(session, user_id=principal.user_id)
    return [complaints.complaint_schema(c, now) for c in rows]


# -- monthly customer-service report --------------------------------------------------------

MonthQuery = Annotated[YearMonth | None, Query(description="YYYY-MM; default now")]


@router.get(M + "/reports/customer-service", response_model=schemas.ServiceReport)
async def service_report(
    merchant_id: uuid.UUID, staff: ManagerStaff, session: SessionDep, month: MonthQuery = None
) -> schemas.ServiceReport:
    return await complaints.service_report(
        session, merchant_id=staff.merchant_id, month=month, now=utcnow()
    )


@router.get(
    M + "/reports/customer-service.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
async def service_report_csv(
    merchant_id: uuid.UUID, staff: ManagerStaff, session: SessionDep, month: MonthQuery = None
) -> Response:
    report = await complaints.service_report(
        session, merchant_id=staff.merchant_id, month=month, now=utcnow()
    )
    return Response(
        complaints.report_csv(report),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="customer-service-{report.month}.csv"'
        },
    )
