"""The customers package's request and response schemas, one module per concept, re-exported
here (routes and services use `schemas.X`).

- `common`: types shared by several concepts;
- `directory`: customers, profiles, timeline, edits, the access log;
- `segments`: segment rules;
- `analytics`: RFM distribution, churn risk, weekly series;
- `followups`: follow-ups, tasks, plans, the due list;
- `complaints`: complaints, their statistics, the customer-service report.
"""

from __future__ import annotations

from customers.schemas.analytics import (
    Analytics,
    ChurnRisk,
    ChurnRiskCustomer,
    RfmCell,
    RfmDistribution,
    RfmRefresh,
    RfmSegmentShare,
    Series,
    Weekly,
)
from customers.schemas.common import FollowUpMethod, InterestLevel, Score, Tag
from customers.schemas.complaints import (
    Complaint,
    ComplaintCategory,
    ComplaintChannel,
    ComplaintCreate,
    ComplaintStats,
    ComplaintStatus,
    ComplaintUpdate,
    MyComplaintCreate,
    ServiceReport,
    StaffServiceFigures,
)
from customers.schemas.directory import (
    AccessLogEntry,
    CustomerProfile,
    CustomerSummary,
    CustomerUpdate,
    NoShow,
    Rfm,
    SortKey,
    TimelineEntry,
)
from customers.schemas.followups import (
    DueFollowUp,
    DueList,
    FollowUp,
    FollowUpCreate,
    FollowUpPlan,
    FollowUpPlanCreate,
    FollowUpPlanUpdate,
    FollowUpTask,
    FollowUpTaskUpdate,
)
from customers.schemas.segments import (
    Range,
    RfmSegmentName,
    ScoreRange,
    Segment,
    SegmentCreate,
    SegmentPreview,
    SegmentRules,
)
from customers.schemas.walk_in import KnownCustomer, WalkInCreate

__all__ = [
    "KnownCustomer",
    "WalkInCreate",
    "AccessLogEntry",
    "Analytics",
    "ChurnRisk",
    "ChurnRiskCustomer",
    "Complaint",
    "ComplaintCategory",
    "ComplaintChannel",
    "ComplaintCreate",
    "ComplaintStats",
    "ComplaintStatus",
    "ComplaintUpdate",
    "CustomerProfile",
    "CustomerSummary",
    "CustomerUpdate",
    "NoShow",
    "DueFollowUp",
    "DueList",
    "FollowUp",
    "FollowUpCreate",
    "FollowUpMethod",
    "FollowUpPlan",
    "FollowUpPlanCreate",
    "FollowUpPlanUpdate",
    "FollowUpTask",
    "FollowUpTaskUpdate",
    "InterestLevel",
    "MyComplaintCreate",
    "Range",
    "Rfm",
    "RfmCell",
    "RfmDistribution",
    "RfmRefresh",
    "RfmSegmentName",
    "RfmSegmentShare",
    "Score",
    "ScoreRange",
    "Segment",
    "SegmentCreate",
    "SegmentPreview",
    "SegmentRules",
    "Series",
    "ServiceReport",
    "StaffServiceFigures",
    "SortKey",
    "Tag",
    "TimelineEntry",
    "Weekly",
]
