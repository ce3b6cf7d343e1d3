"""Follow-ups (回访): records, plans that schedule them, and the "due today" list.

Consent: a customer who refused calls is followed up only by SMS or email (the seed rules:
对不愿意接受电话、拜访等回访方式的客户，可以采用短信、电邮等其他方式). Records have no delete
route: they are kept at least three years.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from accounts import service as accounts_service
from core.errors import InvalidInput
from core.i18n import localised
from core.ids import new_id
from core.pagination import decode_cursor, encode_cursor
from core.timezones import zone
from customers import schemas
from customers.models import FollowUp, FollowUpPlan
from customers.repository.directory import CustomerRepository
from customers.repository.followups import FollowUpRepository
from customers.service.desk import AssigneeFilter
from customers.service.errors import (
    FOLLOW_UP_METHOD,
    CustomerNotFound,
    CustomerRefusesCalls,
    FollowUpPlanNotFound,
    FollowUpTaskNotFound,
    FollowUpTaskNotPending,
)

ALL_METHODS: tuple[schemas.FollowUpMethod, ...] = ("phone", "sms", "wechat", "visit", "email")
NO_CALL_METHODS: tuple[schemas.FollowUpMethod, ...] = ("sms", "email")


def allowed_methods(refuses_calls: bool) -> list[schemas.FollowUpMethod]:
    return list(NO_CALL_METHODS if refuses_calls else ALL_METHODS)


def local_day_bounds(day: date, tz: str) -> tuple[datetime, datetime]:
    """[start, end) of a calendar day in the merchant's zone, as aware datetimes."""
    start = datetime.combine(day, time(0), tzinfo=zone(tz))
    return start, datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone(tz))


async def _customer(session: AsyncSession, merchant_id: uuid.UUID, customer_id: uuid.UUID):  # type: ignore[no-untyped-def]
    customer = await CustomerRepository(session).get(merchant_id, customer_id)
    if customer is None:
        raise CustomerNotFound()
    return customer


async def create_follow_up(
    session: AsyncSession,
    *,
    merchant_id: uuid.UUID,
    caller_id: uuid.UUID,
    data: schemas.FollowUpCreate,
    now: datetime,
) -> FollowUp:
    customer = await _customer(session, merchant_id, data.customer_id)
    staff_id = data.staff or caller_id
    if data.staff is not None:
        role = await accounts_service.staff_role(
            session, merchant_id=merchant_id, user_id=data.staff
        )
        if role is None:
            raise InvalidInput(
                localised(
                    "跟进人必须是本商户的员工", "The follow-up is made by staff of this merchant"
                ),
                loc=["body", "staff"],
            )
    if data.method not in allowed_methods(customer.refuses_calls):
        how = FOLLOW_UP_METHOD.say(data.method)
        raise CustomerRefusesCalls(
            localised(
                f"该客户不接受{how}跟进，请改用短信或邮件",
                f"This customer refuses follow-ups by {how}; send a text message or an email",
            )
        )
    occurred_at = data.occurred_at or now
    if occurred_at > now + timedelta(minutes=5):
        raise InvalidInput(
            localised("跟进时间不能晚于现在", "A follow-up cannot have happened in the future"),
            loc=["body", "occurred_at"],
        )
    if data.next_at is not None and data.next_at <= occurred_at:
        raise InvalidInput(
            localised(
                "下次跟进时间必须晚于本次跟进", "The next follow-up must come after this one"
            ),
            loc=["body", "next_at"],
        )
    repo = FollowUpRepository(session)
    if data.task_id is not None:
        task = await repo.lock_pending_task(merchant_id, data.task_id)
        if task is None or task.customer_id != customer.id:
            raise FollowUpTaskNotFound()
        if task.status != "pending":
            raise FollowUpTaskNotPending()
    record = await repo.add(
        FollowUp(
            merchant_id=merchant_id,
            customer_id=customer.id,
            staff_user_id=staff_id,
            method=data.method,
            content=data.content,
            issues_found=data.issues_found,
            outcome=data.outcome,
            satisfaction=data.satisfaction,
            occurred_at=occurred_at,
            next_at=data.next_at,
            task_id=data.task_id,
        )
    )
    # Without an explicit task, the follow-up settles whatever was due for this customer by
    # the end of its (local) day: staff should not have to tick tasks off separately.
    tz = await accounts_service.merchant_timezone(session, merchant_id=merchant_id)
    _, end_of_day = local_day_bounds(occurred_at.astimezone(zone(tz)).date(), tz)
    await repo.complete_tasks(
        merchant_id=merchant_id,
        customer_id=customer.id,
        task_id=data.task_id,
        due_before=end_of_day,
        follow_up_id=record.id,
        at=now,
    )
    if data.next_at is not None:
        next_method = (
            data.method if data.method in allowed_methods(customer.refuses_calls) else "sms"
        )
        await repo.add_tasks(
            [
                {
                    "id": new_id(),
                    "merchant_id": merchant_id,
                    "customer_id": customer.id,
                    "plan_id": None,
                    "due_at": data.next_at,
                    "method": next_method,
                    "reason": "next_at",
                }
            ]
        )
    return record


def follow_up_schema(record: FollowUp) -> schemas.FollowUp:
    return schemas.FollowUp(
        id=record.id,
        merchant_id=record.merchant_id,
        customer_id=record.customer_id,
        staff=record.staff_user_id,
        method=record.method,  # type: ignore[arg-type]
        content=record.content,
        issues_found=record.issues_found,
        outcome=record.outcome,
        satisfaction=record.satisfaction,
        occurred_at=record.occurred_at,
        next_at=record.next_at,
        task_id=record.task_id,
        created_at=record.created_at,
    )


async def list_follow_ups(
    session: AsyncSession,
    *,
    merchant_id: uuid.UUID,
    customer_id: uuid.UUID | None,
    since: datetime | None,
    until: datetime | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[schemas.FollowUp], str | None]:
    after = decode_cursor(cursor, ("at", "id"))
    rows = await FollowUpRepository(session).page(
        merchant_id=merchant_id,
        customer_id=customer_id,
        since=since,
        until=until,
        after=(datetime.fromisoformat(after["at"]), uuid.UUID(after["id"])) if after else None,
        limit=limit + 1,
    )
    items = rows[:limit]
    next_cursor = (
        encode_cursor({"at": items[-1].occurred_at.isoformat(), "id": str(items[-1].id)})
        if len(rows) > limit
        else None
    )
    return [follow_up_schema(r) for r in items], next_cursor


# -- plans and scheduling -------------------------------------------------------------------


async def create_plan(
    session: AsyncSession, *, merchant_id: uuid.UUID, data: schemas.FollowUpPlanCreate
) -> FollowUpPlan:
    repo = FollowUpRepository(session)
    plan = await repo.add_plan(FollowUpPlan(merchant_id=merchant_id, **data.model_dump()))
    if plan.trigger == "interest_level" and plan.active:
        await repo.schedule_interval_plans(merchant_id=merchant_id)
    return plan


async def list_plans(session: AsyncSession, *, merchant_id: uuid.UUID) -> list[FollowUpPlan]:
    return await FollowUpRepository(session).plans(merchant_id)


async def set_plan_active(
    session: AsyncSession, *, merchant_id: uuid.UUID, plan_id: uuid.UUID, active: bool
) -> FollowUpPlan:
    repo = FollowUpRepository(session)
    plan = await repo.set_plan_active(merchant_id, plan_id, active)
    if plan is None:
        raise FollowUpPlanNotFound()
    if not active:
        await repo.cancel_plan_tasks(plan.id)
    elif plan.trigger == "interest_level":
        await repo.schedule_interval_plans(merchant_id=merchant_id)
    return plan


async def schedule_interval_plans(
    session: AsyncSession, *, merchant_id: uuid.UUID | None = None
) -> int:
    """Give every customer under an interest-level plan its next task (job and on changes)."""
    return await FollowUpRepository(session).schedule_interval_plans(merchant_id=merchant_id)


async def due_list(
    session: AsyncSession,
    *,
    merchant_id: uuid.UUID,
    day: date | None,
    now: datetime,
    mask: bool,
    limit: int,
    assignee: AssigneeFilter | None = None,
) -> schemas.DueList:
    from accounts.schemas import mask_phone

    tz = await accounts_service.merchant_timezone(session, merchant_id=merchant_id)
    today = now.astimezone(zone(tz)).date()
    the_day = day or today
    start, end = local_day_bounds(the_day, tz)
    rows = await FollowUpRepository(session).due(
        merchant_id, until=end, limit=limit, assignee=assignee
    )
    items = [
        schemas.DueFollowUp(
            task=schemas.FollowUpTask.model_validate(task),
            customer_name=name,
            phone=mask_phone(phone) if mask else phone,
            overdue=task.due_at < start,
            allowed_methods=allowed_methods(refuses_calls),
        )
        for task, name, phone, refuses_calls in rows
    ]
    return schemas.DueList(date=the_day, timezone=tz, items=items)
