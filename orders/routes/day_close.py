"""Day close (日结) routes: a shop's or the merchant's local day as JSON, CSV and a print."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from accounts import service as accounts
from core.database import SessionDep
from core.errors import InvalidInput
from core.i18n import localised
from core.timezones import utcnow, zone
from merchants import service as merchants
from orders import schemas, service
from orders.auth import ManagerStaff, ShopStaff

router = APIRouter(prefix="/v1", tags=["day close"])

DayParam = Annotated[
    date | None, Query(alias="date", description="Local date YYYY-MM-DD (default: today)")
]
DAY_CLOSE_FORMATS: dict[str, dict[str, Any]] = {
    "csv": {"content": {"text/csv": {}}, "description": "The close as CSV"},
    "pdf": {"content": {"application/pdf": {}}, "description": "A printable A4 close"},
}


async def _day_close(
    session: SessionDep, merchant_id: uuid.UUID, shop_id: uuid.UUID | None, day: date | None
) -> schemas.DayClose:
    if day is None:
        timezone = await accounts.merchant_timezone(session, merchant_id=merchant_id)
        day = utcnow().astimezone(zone(timezone)).date()
    elif not schemas.DAY_CLOSE_EARLIEST <= day <= schemas.DAY_CLOSE_LATEST:
        raise InvalidInput(
            localised("没有这么久远的日结", "There is no day close that far out"),
            loc=["query", "date"],
        )
    return await service.day_close(session, merchant_id=merchant_id, shop_id=shop_id, day=day)


def _as(close: schemas.DayClose, fmt: str, title: str) -> Response:
    name = f"day-close-{close.date.isoformat()}"
    if fmt == "csv":
        return Response(
            service.day_close_csv(close).encode("utf-8-sig"),  # BOM: spreadsheets read UTF-8
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    return Response(
        service.day_close_pdf(close, title=title),
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{name}.pdf"'},
    )


@router.get("/shops/{shop_id}/day-close", response_model=schemas.DayClose, tags=["day close"])
async def shop_day_close(
    shop_id: uuid.UUID, staff: ShopStaff, session: SessionDep, day: DayParam = None
) -> schemas.DayClose:
    """The shop's day in the merchant's timezone: redemptions and reversals, card
    transactions by kind, count uses, orders consumed and refunded, totals by staff."""
    return await _day_close(session, staff.merchant_id, shop_id, day)


@router.get(
    "/merchants/{merchant_id}/day-close", response_model=schemas.DayClose, tags=["day close"]
)
async def merchant_day_close(
    merchant_id: uuid.UUID, staff: ManagerStaff, session: SessionDep, day: DayParam = None
) -> schemas.DayClose:
    """Every shop's day together (online top-ups included: they have no shop)."""
    return await _day_close(session, staff.merchant_id, None, day)


def _add_day_close_files() -> None:
    for fmt, responses in DAY_CLOSE_FORMATS.items():

        async def shop_file(
            shop_id: uuid.UUID,
            staff: ShopStaff,
            session: SessionDep,
            day: DayParam = None,
            fmt: str = fmt,
        ) -> Response:
            close = await _day_close(session, staff.merchant_id, shop_id, day)
            shop = await merchants.get_shop(session, shop_id=shop_id)
            return _as(close, fmt, f"{shop.name} 日结")

        async def merchant_file(
            merchant_id: uuid.UUID,
            staff: ManagerStaff,
            session: SessionDep,
            day: DayParam = None,
            fmt: str = fmt,
        ) -> Response:
            close = await _day_close(session, staff.merchant_id, None, day)
            merchant = await accounts.get_merchant(session, merchant_id=staff.merchant_id)
            return _as(close, fmt, f"{merchant.name} 日结")

        for path, endpoint, name in (
            (f"/shops/{{shop_id}}/day-close.{fmt}", shop_file, f"shop_day_close_{fmt}"),
            (f"/merchants/{{merchant_id}}/day-close.{fmt}", merchant_file,
             f"merchant_day_close_{fmt}"),
        ):  # fmt: skip
            endpoint.__name__ = name
            router.add_api_route(
                path,
                endpoint,
                methods=["GET"],
                response_class=Response,
                responses={200: responses},
                tags=["day close"],
                operation_id=name,
            )


_add_day_close_files()
