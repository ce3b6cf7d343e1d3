"""Follow-ups: records, scheduled tasks, plans and the due list."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from customers.schemas.common import FollowUpMethod, InterestLevel


class FollowUpTask(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    customer_id: uuid.UUID
    plan_id: uuid.UUID | None
    due_at: datetime
    method: FollowUpMethod
    reason: str = Field(
        description="first_purchase, interest_level, next_at, complaint_resolved or churn_risk"
    )
    status: str
    assignee: uuid.UUID | None = Field(description="The staff user id who should do it")
    complaint_id: uuid.UUID | None = Field(
        description="The resolved complaint this follow-up checks on"
    )


class FollowUpTaskUpdate(BaseModel):
    """Assign a task (managers: to any staff member; clerks: take it, or drop their own)."""

    model_config = ConfigDict(extra="forbid")

    assignee: uuid.UUID | None


# -- follow-ups -----------------------------------------------------------------------------


class FollowUpCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: uuid.UUID
    staff: uuid.UUID | None = Field(default=None, description="Staff user id; default the caller")
    method: FollowUpMethod
    content: str = Field(min_length=1, max_length=4000)
    issues_found: str | None = Field(default=None, max_length=4000)
    outcome: str | None = Field(default=None, max_length=4000)
    satisfaction: int | None = Field(default=None, ge=1, le=5)
    occurred_at: AwareDatetime | None = None
    next_at: AwareDatetime | None = None
    task_id: uuid.UUID | None = Field(default=None, description="The scheduled task this does")


class FollowUp(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    merchant_id: uuid.UUID
    customer_id: uuid.UUID
    staff: uuid.UUID | None
    method: FollowUpMethod
    content: str
    issues_found: str | None
    outcome: str | None
    satisfaction: int | None
    occurred_at: datetime
    next_at: datetime | None
    task_id: uuid.UUID | None
    created_at: datetime


class FollowUpPlanCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=80)
    trigger: Literal["first_purchase", "interest_level"]
    offsets_days: list[Annotated[int, Field(ge=0, le=365)]] = Field(
        default_factory=list, max_length=10
    )
    interest_level: InterestLevel | None = None
    every_days: int | None = Field(default=None, ge=1, le=365)
    method: FollowUpMethod = "phone"
    active: bool = True

    @model_validator(mode="after")
    def _shape(self) -> FollowUpPlanCreate:
        if self.trigger == "first_purchase":
            if not self.offsets_days:
                raise ValueError("a first_purchase plan needs offsets_days, e.g. [3, 7]")
            if self.interest_level is not None or self.every_days is not None:
                raise ValueError("interest_level and every_days belong to interest_level plans")
            self.offsets_days = sorted(set(self.offsets_days))
        else:
            if self.interest_level is None or self.every_days is None:
                raise ValueError("an interest_level plan needs interest_level and every_days")
            if self.offsets_days:
                raise ValueError("offsets_days belongs to first_purchase plans")
        return self


class FollowUpPlanUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    active: bool


class FollowUpPlan(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    merchant_id: uuid.UUID
    name: str
    trigger: str
    offsets_days: list[int]
    interest_level: str | None
    every_days: int | None
    method: FollowUpMethod
    active: bool
    created_at: datetime


class DueFollowUp(BaseModel):
    task: FollowUpTask
    customer_name: str | None
    phone: str | None
    overdue: bool
    allowed_methods: list[FollowUpMethod]


class DueList(BaseModel):
    date: date
    timezone: str
    items: list[DueFollowUp]
