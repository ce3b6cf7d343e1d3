"""Settlement routes: the merchant's monthly statement as JSON and CSV."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from accounts import service as accounts
from core.database import SessionDep
from core.dates import YearMonth
from core.settings import SettingsDep
from core.timezones import utcnow, zone
from orders import schemas, service
from orders.auth import ManagerStaff

router = APIRouter(prefix="/v1", tags=["orders"])

PeriodParam = Annotated[YearMonth | None, Query(description="YYYY-MM (default: now)")]
CurrencyParam = Annotated[str, Query(pattern=r"^[A-Z]{3}$")]


@router.get("/merchants/{merchant_id}/settlements", response_model=schemas.Statement)
async def settlement(
    merchant_id: uuid.UUID,
    staff: ManagerStaff,
    session: SessionDep,
    settings: SettingsDep,
    period: PeriodParam = None,
    currency: CurrencyParam = "CNY",
) -> schemas.Statement:
    timezone = await accounts.merchant_timezone(session, merchant_id=staff.merchant_id)
    return await service.statement(
        session,
        merchant_id=staff.merchant_id,
        timezone=timezone,
        period=period,
        currency=currency,
        fee_bps=settings.platform_fee_bps,
        now=utcnow(),
    )


@router.get(
    "/merchants/{merchant_id}/settlements.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
async def settlement_csv(
    merchant_id: uuid.UUID,
    staff: ManagerStaff,
    session: SessionDep,
    settings: SettingsDep,
    period: PeriodParam = None,
    currency: CurrencyParam = "CNY",
) -> Response:
    timezone = await accounts.merchant_timezone(session, merchant_id=staff.merchant_id)
    now = utcnow()
    period = period or now.astimezone(zone(timezone)).strftime("%Y-%m")
    text = await service.statement_csv(
        session,
        merchant_id=staff.merchant_id,
        timezone=timezone,
        period=period,
        currency=currency,
        fee_bps=settings.platform_fee_bps,
        now=now,
    )
    return Response(
        text.encode("utf-8-sig"),  # the BOM lets spreadsheet programs read UTF-8
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="settlement-{period}-{currency}.csv"',
            "Cache-Control": "private, no-store",
        },
    )
