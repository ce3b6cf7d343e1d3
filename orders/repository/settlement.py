"""Settlement queries: period totals from consumed and refunded orders, and the statement upsert."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from orders.models import (
    Order,
    SettlementStatement,
)


@dataclass(frozen=True)
class PeriodTotals:
    collected: int
    orders_paid: int
    refunded: int
    orders_refunded: int
    consumed: int
    orders_consumed: int
    fees: int


@dataclass(frozen=True)
class ConsumedLine:
    order_id: uuid.UUID
    code: str
    shop_id: uuid.UUID | None
    consumed_at: datetime
    total: int


class SettlementRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def totals(
        self,
        merchant_id: uuid.UUID,
        *,
        currency: str,
        start: datetime,
        end: datetime,
        fee_bps: int,
    ) -> PeriodTotals:
        def within(column: Any) -> Any:
            return and_(column >= start, column < end)

        # fee per order rounded half up: floor((total * bps * 2 + 10000) / 20000) — the same
        # rule as orders.fees.fee_of, summed by the database (the CSV recomputes it per line)
        fee = (Order.total * fee_bps * 2 + 10_000) // 20_000
        stmt = select(
            func.coalesce(func.sum(Order.total).filter(within(Order.paid_at)), 0),
            func.count().filter(within(Order.paid_at)),
            func.coalesce(func.sum(Order.total).filter(within(Order.refunded_at)), 0),
            func.count().filter(within(Order.refunded_at)),
            func.coalesce(func.sum(Order.total).filter(within(Order.consumed_at)), 0),
            func.count().filter(within(Order.consumed_at)),
            func.coalesce(func.sum(fee).filter(within(Order.consumed_at)), 0),
        ).where(
            Order.merchant_id == merchant_id,
            Order.currency == currency,
            # only orders touched in the period matter; the three indexes answer these
            (within(Order.paid_at) | within(Order.refunded_at) | within(Order.consumed_at)),
        )
        row = (await self.session.execute(stmt)).one()
        return PeriodTotals(*(int(v) for v in row))

    async def consumed_lines(
        self, merchant_id: uuid.UUID, *, currency: str, start: datetime, end: datetime
    ) -> list[ConsumedLine]:
        stmt = (
            select(Order.id, Order.code, Order.consumed_shop_id, Order.consumed_at, Order.total)
            .where(
                Order.merchant_id == merchant_id,
                Order.currency == currency,
                Order.consumed_at >= start,
                Order.consumed_at < end,
            )
            .order_by(Order.consumed_at, Order.id)
        )
        return [
            ConsumedLine(order_id, code, shop_id, at, total)
            for order_id, code, shop_id, at, total in await self.session.execute(stmt)
            if at is not None
        ]

    async def get(
        self, merchant_id: uuid.UUID, period: str, currency: str
    ) -> SettlementStatement | None:
        stmt = (
            select(SettlementStatement)
            .where(
                SettlementStatement.merchant_id == merchant_id,
                SettlementStatement.period == period,
                SettlementStatement.currency == currency,
            )
            .execution_options(populate_existing=True)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def upsert_unless_closed(self, values: dict[str, Any]) -> SettlementStatement | None:
        """Write the statement; a closed one is never touched again (None then)."""
        stmt = insert(SettlementStatement).values(**values)
        changing = {
            k: stmt.excluded[k]
            for k in values
            if k not in ("id", "merchant_id", "period", "currency")
        }
        upsert = stmt.on_conflict_do_update(
            index_elements=["merchant_id", "period", "currency"],
            set_=changing,
            where=SettlementStatement.status == "open",
        ).returning(SettlementStatement)
        result = await self.session.execute(upsert.execution_options(populate_existing=True))
        return result.scalar_one_or_none()


@dataclass(frozen=True)
class OrderDayLine:
    staff_user_id: uuid.UUID | None
    currency: str
    count: int
    total: int


async def order_day_lines(
    session: AsyncSession,
    *,
    merchant_id: uuid.UUID,
    shop_id: uuid.UUID | None,
    start: datetime,
    end: datetime,
    refunded: bool,
) -> list[OrderDayLine]:
    """Orders consumed (or `refunded`) in [start, end), by the staff member who did it —
    the same instants the settlement statement counts by."""
    at = Order.refunded_at if refunded else Order.consumed_at
    who = Order.refunded_by if refunded else Order.consumed_by
    where_shop = Order.shop_id if refunded else Order.consumed_shop_id
    stmt = (
        select(who, Order.currency, func.count(), func.coalesce(func.sum(Order.total), 0))
        .where(Order.merchant_id == merchant_id, at >= start, at < end)
        .group_by(who, Order.currency)
    )
    if shop_id is not None:
        stmt = stmt.where(where_shop == shop_id)
    return [OrderDayLine(r[0], r[1], int(r[2]), int(r[3])) for r in await session.execute(stmt)]
