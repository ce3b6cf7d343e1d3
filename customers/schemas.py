from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from core.money import Money

SortKey = Literal["last_visit", "total_spend", "visits"]
FollowUpMethod = Literal["phone", "sms", "wechat", "visit", "email"]
InterestLevel = Literal["high", "medium", "low"]
ComplaintStatus = Literal["open", "responded", "resolved", "closed"]
ComplaintCategory = Literal[
    "service", "quality", "price", "hygiene", "waiting", "staff_attitude", "billing", "other"
]
ComplaintChannel = Literal["in_person", "phone", "app", "wechat", "email", "other"]
RfmSegmentName = Literal[
    "champions",
    "loyal",
    "potential_loyalists",
    "new_customers",
    "promising",
    "need_attention",
    "about_to_sleep",
    "at_risk",
    "cant_lose",
    "hibernating",
]
Tag = Annotated[str, Field(min_length=1, max_length=32)]
Score = Annotated[int, Field(ge=1, le=5)]


def _clean_tags(tags: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    for tag in tags:
        text = tag.strip()
        if not text:
            raise ValueError("tags must not be blank")
        seen.setdefault(text, None)
    return list(seen)


# -- directory and profile ------------------------------------------------------------------


class Rfm(BaseModel):
    r: int
    f: int
    m: int
    segment: str
    scored_at: datetime


class CustomerSummary(BaseModel):
    id: uuid.UUID
    user_id: uuid.UUID
    name: str | None
    phone: str | None = Field(description="Masked (138****5678) for clerks")
    tier: str | None
    tags: list[str]
    visits: int
    total_spend: Money
    first_seen_at: datetime
    last_visit_at: datetime | None
    rfm_segment: str | None


class TimelineEntry(BaseModel):
    id: str = Field(description="event:<n>, follow_up:<uuid> or complaint:<uuid>")
    kind: str
    at: datetime
    amount: Money | None = None
    reference_id: uuid.UUID | None = None
    summary: str | None = None


class FollowUpTask(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    customer_id: uuid.UUID
    plan_id: uuid.UUID | None
    due_at: datetime
    method: FollowUpMethod
    reason: str
    status: str


class CustomerProfile(CustomerSummary):
    notes: str | None
    refuses_calls: bool
    interest_level: InterestLevel | None
    first_visit_at: datetime | None
    first_purchase_at: datetime | None
    last_activity_at: datetime
    rfm: Rfm | None
    allowed_follow_up_methods: list[FollowUpMethod]
    open_follow_up_tasks: list[FollowUpTask]
    timeline: list[TimelineEntry]
    timeline_next_cursor: str | None


class CustomerUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=64)
    tags: list[Tag] | None = Field(default=None, max_length=30)
    notes: str | None = Field(default=None, max_length=4000)
    refuses_calls: bool | None = None
    interest_level: InterestLevel | None = None
    tier: str | None = Field(default=None, min_length=1, max_length=32)

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str] | None) -> list[str] | None:
        return _clean_tags(value) if value is not None else None


# -- segments -------------------------------------------------------------------------------


class Range(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min must not exceed max")
        return self


class ScoreRange(Range):
    min: int | None = Field(default=None, ge=1, le=5)
    max: int | None = Field(default=None, ge=1, le=5)


class SegmentRules(BaseModel):
    """Every condition given must hold (AND). Money in minor units."""

    model_config = ConfigDict(extra="forbid")

    r_score: ScoreRange | None = None
    f_score: ScoreRange | None = None
    m_score: ScoreRange | None = None
    rfm_segments: list[RfmSegmentName] | None = Field(default=None, min_length=1)
    visits: Range | None = None
    total_spend: Range | None = None
    last_visit_before: AwareDatetime | None = None
    last_visit_after: AwareDatetime | None = None
    no_visit_for_days: int | None = Field(default=None, ge=1, le=3650)
    visited_within_days: int | None = Field(default=None, ge=1, le=3650)
    tiers: list[Annotated[str, Field(min_length=1, max_length=32)]] | None = Field(
        default=None, min_length=1, max_length=20
    )
    tags_any: list[Tag] | None = Field(default=None, min_length=1, max_length=20)
    tags_all: list[Tag] | None = Field(default=None, min_length=1, max_length=20)
    refuses_calls: bool | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> SegmentRules:
        if not self.model_dump(exclude_none=True):
            raise ValueError("a segment needs at least one rule")
        return self


class SegmentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=80)
    rules: SegmentRules


class Segment(BaseModel):
    id: uuid.UUID
    merchant_id: uuid.UUID
    name: str
    rules: dict[str, Any]
    customers: int = Field(description="Counted live when the segment is read")
    created_at: datetime


class SegmentPreview(BaseModel):
    customers: int


# -- analytics ------------------------------------------------------------------------------


class RfmSegmentShare(BaseModel):
    segment: str
    customers: int
    share: float


class RfmCell(BaseModel):
    r: int
    fm: int
    customers: int


class RfmDistribution(BaseModel):
    scored_customers: int
    unscored_customers: int = Field(description="Customers with no visit or spend yet")
    segments: list[RfmSegmentShare]
    grid: list[RfmCell]


class ChurnRiskCustomer(BaseModel):
    customer_id: uuid.UUID
    name: str | None
    last_visit_at: datetime
    usual_interval_days: float
    days_since_last_visit: float
    overdue_ratio: float
    total_spend: Money


class ChurnRisk(BaseModel):
    k: float
    customers: int
    items: list[ChurnRiskCustomer]


class Series(BaseModel):
    name: str
    data: list[int]


class Weekly(BaseModel):
    labels: list[str] = Field(description="ISO week starts (Monday) in the merchant's timezone")
    currency: str
    series: list[Series]


class Analytics(BaseModel):
    merchant_id: uuid.UUID
    timezone: str
    generated_at: datetime
    rfm: RfmDistribution
    churn_risk: ChurnRisk
    weekly: Weekly


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


# -- complaints -----------------------------------------------------------------------------


class ComplaintCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: uuid.UUID
    category: ComplaintCategory
    channel: ComplaintChannel = "in_person"
    content: str = Field(min_length=1, max_length=4000)
    opened_at: AwareDatetime | None = None


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


class AccessLogEntry(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    staff_user_id: uuid.UUID
    action: str
    customer_id: uuid.UUID | None
    detail: dict[str, Any]
    at: datetime


class RfmRefresh(BaseModel):
    updated: int
