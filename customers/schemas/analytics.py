"""Analytics: the RFM distribution, churn risk, weekly series, and RFM refreshes."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from core.money import Money

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


class RfmRefresh(BaseModel):
    updated: int
