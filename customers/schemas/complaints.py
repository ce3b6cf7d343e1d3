"""Complaints, their statistics, and the monthly customer-service report."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

ComplaintStatus = Literal["open", "responded", "resolved", "closed"]
ComplaintCategory = Literal[
    "service", "quality", "price", "hygiene", "waiting", "staff_attitude", "billing", "other"
]
ComplaintChannel = Literal["in_person", "phone", "app", "wechat", "email", "other"]


# -- complaints -----------------------------------------------------------------------------


class ComplaintCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: uuid.UUID
    category: ComplaintCategory
    channel: ComplaintChannel = "in_person"
    content: str = Field(min_length=1, max_length=4000)
    opened_at: AwareDatetime | None = None
    assignee: uuid.UUID | None = Field(default=None, description="A staff user id")


class MyComplaintCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    merchant_id: uuid.UUID
    category: ComplaintCategory
    content: str = Field(min_length=1, max_length=4000)


class ComplaintUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: ComplaintStatus | None = None
    response: str | None = Field(default=None, min_length=1, max_length=4000)
    resolution: str | None = Field(default=None, min_length=1, max_length=4000)
    satisfaction: int | None = Field(default=None, ge=1, le=5)
    category: ComplaintCategory | None = None
    assignee: uuid.UUID | None = Field(
        default=None, description="A staff user id; null unassigns (managers: anyone)"
    )


class Complaint(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    merchant_id: uuid.UUID
    customer_id: uuid.UUID
    source: str
    category: ComplaintCategory
    channel: ComplaintChannel
    content: str
    status: ComplaintStatus
    opened_at: datetime
    due_at: datetime
    overdue: bool = False
    response: str | None
    responded_at: datetime | None
    response_minutes: int | None = None
    resolution: str | None
    resolved_at: datetime | None
    closed_at: datetime | None
    satisfaction: int | None
    assignee: uuid.UUID | None = None
    escalated_at: datetime | None = Field(
        default=None, description="When it was escalated to the managers (open past due)"
    )


class ComplaintStats(BaseModel):
    since: datetime
    until: datetime
    opened: int
    by_status: dict[str, int]
    by_category: dict[str, int]
    overdue_open: int
    responded: int
    responded_within_target: int
    within_target_share: float | None
    response_minutes_avg: float | None
    response_minutes_p50: float | None
    response_minutes_p90: float | None


class StaffServiceFigures(BaseModel):
    """One staff member's month: follow-ups they recorded, the tasks assigned to them that fell
    due in the month (done, done by their due time), the complaints they resolved (and those
    answered within the 48-hour target), the satisfaction their follow-ups and complaints got."""

    staff_user_id: uuid.UUID
    name: str | None
    follow_ups_done: int
    tasks_due: int
    tasks_done: int
    tasks_on_time: int
    complaints_resolved: int
    complaints_on_time: int
    satisfaction_avg: float | None
    satisfaction_responses: int


class ServiceReport(BaseModel):
    merchant_id: uuid.UUID
    month: str
    timezone: str
    follow_ups_done: int
    follow_ups_by_method: dict[str, int]
    follow_ups_with_issues: int
    follow_up_tasks_due: int
    follow_up_tasks_done: int
    complaints_opened: int
    complaints_resolved: int
    complaints_closed: int
    complaints_responded_within_target: int
    complaint_response_minutes_avg: float | None
    satisfaction_avg: float | None
    satisfaction_responses: int
    by_staff: list[StaffServiceFigures] = Field(
        default_factory=list, description="Per staff member, most work done first"
    )
