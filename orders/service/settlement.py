"""Monthly settlement statements: what the platform collected for a merchant, what it refunded,
what was consumed (and so is settled), its fee, and what it owes the merchant.

A period is a calendar month in the merchant's timezone. Generating a statement is idempotent:
one row per merchant, period and currency, computed from the orders alone, so regenerating
gives the same numbers. Once the period has ended the row is written one last time as
`closed` and never changes again (the fee rate it was made with is kept on it; the CSV's lines
are recomputed with that rate and add up to the same totals).

Fee rounding: per consumed order, half up to the fen (orders.fees); the statement's fee is the
sum of the orders' fees, so fees + payable = consumed exactly.
"""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core.ids import new_id
from core.money import Money
from core.timezones import zone
from orders import fees, schemas
from orders.models import SettlementStatement
from orders.repository import SettlementRepository
from orders.service.errors import PeriodInvalid

ROUNDING_RULE = "per consumed order: fee = total × rate_bps / 10000, rounded half up to the fen"


def period_bounds(period: str, timezone: str) -> tuple[datetime, datetime]:
    try:
        schemas.check_period(period)
    except ValueError as exc:
        raise PeriodInvalid() from exc
    year, month = int(period[:4]), int(period[5:])
    tz = zone(timezone)
    start = datetime(year, month, 1, tzinfo=tz)
    following = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=tz)
    return start.astimezone(UTC), following.astimezone(UTC)


def current_period(now: datetime, timezone: str) -> str:
    return now.astimezone(zone(timezone)).strftime("%Y-%m")


def statement_schema(row: SettlementStatement) -> schemas.Statement:
    cur = row.currency
    start, end = period_bounds(row.period, row.timezone)
    tz = zone(row.timezone)
    return schemas.Statement(
        merchant_id=row.merchant_id,
        period=row.period,
        currency=cur,
        timezone=row.timezone,
        status=row.status,  # type: ignore[arg-type]
        period_start=start.astimezone(tz),
        period_end=end.astimezone(tz),
        fee_rate_bps=row.fee_bps,
        collected=Money.of(row.collected, cur),
        refunded=Money.of(row.refunded, cur),
        consumed=Money.of(row.consumed, cur),
        fees=Money.of(row.fees, cur),
        payable=Money.of(row.payable, cur),
        orders_paid=row.orders_paid,
        orders_refunded=row.orders_refunded,
        orders_consumed=row.orders_consumed,
        rounding=ROUNDING_RULE,
        generated_at=row.generated_at,
        closed_at=row.closed_at,
    )


async def _statement_row(
    session: AsyncSession,
    *,
    merchant_id: uuid.UUID,
    timezone: str,
    period: str,
    currency: str,
    fee_bps: int,
    now: datetime,
) -> SettlementStatement:
    start, end = period_bounds(period, timezone)
    repo = SettlementRepository(session)
    existing = await repo.get(merchant_id, period, currency)
    if existing is not None and existing.status == "closed":
        return existing  # frozen: never recomputed
    if start > now:
        raise PeriodInvalid()
    closed = end <= now
    totals = await repo.totals(
        merchant_id, currency=currency, start=start, end=end, fee_bps=fee_bps
    )
    row = await repo.upsert_unless_closed(
        {
            "id": existing.id if existing is not None else new_id(),
            "merchant_id": merchant_id,
            "period": period,
            "currency": currency,
            "timezone": timezone,
            "fee_bps": fee_bps,
            "status": "closed" if closed else "open",
            "collected": totals.collected,
            "refunded": totals.refunded,
            "consumed": totals.consumed,
            "fees": totals.fees,
            "payable": totals.consumed - totals.fees,
            "orders_paid": totals.orders_paid,
            "orders_refunded": totals.orders_refunded,
            "orders_consumed": totals.orders_consumed,
            "generated_at": now,
            "closed_at": now if closed else None,
        }
    )
    if row is None:  # closed by a concurrent request meanwhile
        row = await repo.get(merchant_id, period, currency)
        assert row is not None
    return row


async def statement(
    session: AsyncSession,
    *,
    merchant_id: uuid.UUID,
    timezone: str,
    period: str | None,
    currency: str,
    fee_bps: int,
    now: datetime,
) -> schemas.Statement:
    row = await _statement_row(
        session,
        merchant_id=merchant_id,
        timezone=timezone,
        period=period or current_period(now, timezone),
        currency=currency,
        fee_bps=fee_bps,
        now=now,
    )
    return statement_schema(row)


def yuan(amount: int) -> str:
    """Minor units as yuan text (`-12.05`), for people reading a CSV or a print."""
    sign = "-" if amount < 0 else ""
    return f"{sign}{abs(amount) // 100}.{abs(amount) % 100:02d}"


async def statement_csv(
    session: AsyncSession,
    *,
    merchant_id: uuid.UUID,
    timezone: str,
    period: str,
    currency: str,
    fee_bps: int,
    now: datetime,
) -> str:
    """The statement's consumed orders one per line (fee and merchant share each), then the
    totals; amounts in minor units and, for people, in major units."""
    row = await _statement_row(
        session,
        merchant_id=merchant_id,
        timezone=timezone,
        period=period,
        currency=currency,
        fee_bps=fee_bps,
        now=now,
    )
    start, end = period_bounds(row.period, row.timezone)
    lines = await SettlementRepository(session).consumed_lines(
        merchant_id, currency=currency, start=start, end=end
    )
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["order_id", "order_code", "shop_id", "consumed_at", "currency", "total_minor",
         "fee_minor", "payable_minor", "total", "fee", "payable"]
    )  # fmt: skip
    tz = zone(row.timezone)
    for line in lines:
        fee, share = fees.split(line.total, row.fee_bps)
        at = line.consumed_at.astimezone(tz).isoformat()
        writer.writerow(
            [line.order_id, line.code, line.shop_id or "", at, currency,
             line.total, fee, share, yuan(line.total), yuan(fee), yuan(share)]
        )  # fmt: skip
    writer.writerow([])
    for label, value in (
        ("collected", row.collected),
        ("refunded", row.refunded),
        ("consumed", row.consumed),
        ("fees", row.fees),
        ("payable", row.payable),
    ):
        writer.writerow([f"# {label}", "", "", "", currency, value, "", "", yuan(value), "", ""])
    writer.writerow(["# fee_rate_bps", row.fee_bps])
    writer.writerow(["# rounding", ROUNDING_RULE])
    writer.writerow(["# period", row.period, row.timezone, row.status])
    return out.getvalue()
