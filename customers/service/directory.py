"""The customer directory: search, filters, keyset pages, profiles, timelines, CSV export.

Every read of customer data is written to the access audit log in the same transaction.
Clerks see phone numbers masked (138****5678); managers and owners see them in full. So that a
search cannot unmask them (`q=1380`, `q=13800`, ... recovered the hidden digits in 40 requests,
issue 17 finding 4), staff who see masked phones search phones by a whole number or by the last
four digits only, and every staff member's searches are rate-limited (per minute, and per day
for masked phone searches, which bounds guessing whole numbers).
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import structlog
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.schemas import mask_phone, normalise_phone
from core import ratelimit
from core.errors import InvalidCursor, RateLimited
from core.money import Money
from core.pagination import decode_cursor, decode_cursor_as, encode_cursor
from core.timezones import zone
from customers import schemas
from customers.models import Customer
from customers.repository.directory import (
    CustomerRepository,
    masked_phone_clause,
    phone_digits,
    search_clause,
)
from customers.repository.followups import FollowUpRepository
from customers.service.errors import PhoneSearchTooPartial
from customers.service.followups import CustomerNotFound, allowed_methods, schedule_interval_plans
from customers.service.segments import segment_conditions

TIMELINE_PAGE = 50
NO_SHOW_LIST = 20
EXPORT_BATCH = 1000


def summary(customer: Customer, *, mask: bool) -> schemas.CustomerSummary:
    return schemas.CustomerSummary(
        id=customer.id,
        user_id=customer.user_id,
        name=customer.name,
        phone=mask_phone(customer.phone) if mask else customer.phone,
        tier=customer.tier,
        tags=list(customer.tags or []),
        visits=customer.visits,
        no_shows=customer.no_shows,
        total_spend=Money.of(customer.total_spend, customer.currency),
        first_seen_at=customer.first_seen_at,
        last_visit_at=customer.last_visit_at,
        rfm_segment=customer.rfm_segment,
    )


async def log_access(
    session: AsyncSession,
    *,
    merchant_id: uuid.UUID,
    staff_user_id: uuid.UUID,
    action: str,
    customer_id: uuid.UUID | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    await CustomerRepository(session).log_access(
        merchant_id=merchant_id,
        staff_user_id=staff_user_id,
        action=action,
        customer_id=customer_id,
        detail={k: v for k, v in (detail or {}).items() if v is not None},
    )


SEARCHES_PER_MINUTE = 30
MASKED_PHONE_SEARCHES_PER_DAY = 200
log = structlog.get_logger("corner.customers")


async def take_search_budget(
    redis: Redis, *, merchant_id: uuid.UUID, staff_user_id: uuid.UUID, q: str, mask: bool
) -> None:
    """Count one search by this staff member; 429 past the limits. Fails open without Redis
    (like the claim limit): the masked-phone rule above still holds."""
    scope = f"{merchant_id}:{staff_user_id}"
    limits = [(f"customer_search:min:{scope}", 60, SEARCHES_PER_MINUTE)]
    if mask and phone_digits(q) is not None:
        limits.append((f"customer_search:phone_day:{scope}", 86_400, MASKED_PHONE_SEARCHES_PER_DAY))
    try:
        for key, window, limit in limits:
            count, ttl = await ratelimit.increment(redis, key, window)
            if count > limit:
                raise RateLimited(ttl or window)
    except (RedisConnectionError, RedisTimeoutError) as exc:
        log.warning("customer_search_rate_limit_skipped", reason=type(exc).__name__)


def _search(q: str, *, mask: bool) -> ColumnElement[bool]:
    digits = phone_digits(q)
    if not mask or digits is None:
        return search_clause(q)
    try:
        return masked_phone_clause(full=normalise_phone(q), last_four=None)
    except ValueError:
        if len(digits) == 4:
            return masked_phone_clause(full=None, last_four=digits)
        raise PhoneSearchTooPartial() from None


async def _filters(
    session: AsyncSession,
    *,
    merchant_id: uuid.UUID,
    q: str | None,
    tier: str | None,
    segment_id: uuid.UUID | None,
    now: datetime,
    mask: bool,
) -> list[ColumnElement[bool]]:
    filters: list[ColumnElement[bool]] = []
    if q and q.strip():
        filters.append(_search(q, mask=mask))
    if tier:
        filters.append(Customer.tier == tier)
    if segment_id is not None:
        filters += await segment_conditions(
            session, merchant_id=merchant_id, segment_id=segment_id, now=now
        )
    return filters


def _cursor_of(customer: Customer, sort: str) -> dict[str, Any]:
    value: Any
    if sort == "last_visit":
        value = customer.last_visit_at.isoformat() if customer.last_visit_at else None
    elif sort == "total_spend":
        value = customer.total_spend
    else:
        value = customer.visits
    return {"s": sort, "v": value, "id": str(customer.id)}


def _after(cursor: str | None, sort: str) -> tuple[Any, uuid.UUID] | None:
    values = decode_cursor(cursor, ("s", "v", "id"))
    if values is None:
        return None
    if values["s"] != sort:
        raise InvalidCursor.other_order()
    try:
        raw = values["v"]
        if sort == "last_visit":
            value: Any = datetime.fromisoformat(raw) if raw is not None else None
        else:
            value = int(raw)
        return value, uuid.UUID(values["id"])
    except (TypeError, ValueError) as exc:
        raise InvalidCursor.other_list() from exc


async def list_customers(
    session: AsyncSession,
    *,
    merchant_id: uuid.UUID,
    q: str | None,
    tier: str | None,
    segment_id: uuid.UUID | None,
    sort: schemas.SortKey,
    cursor: str | None,
    limit: int,
    mask: bool,
    now: datetime,
) -> tuple[list[schemas.CustomerSummary], str | None]:
    filters = await _filters(
        session, merchant_id=merchant_id, q=q, tier=tier, segment_id=segment_id, now=now, mask=mask
    )
    rows = await CustomerRepository(session).page(
        merchant_id=merchant_id,
        filters=filters,
        sort=sort,
        after=_after(cursor, sort),
        limit=limit + 1,
    )
    items = rows[:limit]
    next_cursor = encode_cursor(_cursor_of(items[-1], sort)) if len(rows) > limit else None
    return [summary(c, mask=mask) for c in items], next_cursor


async def timeline(
    session: AsyncSession,
    *,
    merchant_id: uuid.UUID,
    customer_id: uuid.UUID,
    cursor: str | None,
    limit: int,
) -> tuple[list[schemas.TimelineEntry], str | None]:
    values = decode_cursor_as(cursor, {"at": datetime.fromisoformat, "key": str})
    after = (values["at"], values["key"]) if values else None
    rows = await CustomerRepository(session).timeline(
        merchant_id=merchant_id, customer_id=customer_id, after=after, limit=limit + 1
    )
    entries = [
        schemas.TimelineEntry(
            id=row.key,
            kind=row.kind,
            at=row.at,
            amount=Money.of(row.amount, row.currency) if row.currency and row.amount else None,
            reference_id=row.reference_id,
            summary=row.summary,
        )
        for row in rows[:limit]
    ]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor({"at": last.at.isoformat(), "key": last.key})
    return entries, next_cursor


async def get_customer(
    session: AsyncSession, *, merchant_id: uuid.UUID, customer_id: uuid.UUID
) -> Customer:
    customer = await CustomerRepository(session).get(merchant_id, customer_id)
    if customer is None:
        raise CustomerNotFound()
    return customer


async def profile(
    session: AsyncSession, *, merchant_id: uuid.UUID, customer_id: uuid.UUID, mask: bool
) -> schemas.CustomerProfile:
    customer = await get_customer(session, merchant_id=merchant_id, customer_id=customer_id)
    entries, next_cursor = await timeline(
        session, merchant_id=merchant_id, customer_id=customer_id, cursor=None, limit=TIMELINE_PAGE
    )
    tasks = await FollowUpRepository(session).open_tasks(merchant_id, customer_id)
    no_shows = await CustomerRepository(session).no_shows(customer_id, limit=NO_SHOW_LIST)
    rfm = None
    if customer.r_score and customer.f_score and customer.m_score and customer.rfm_scored_at:
        rfm = schemas.Rfm(
            r=customer.r_score,
            f=customer.f_score,
            m=customer.m_score,
            segment=customer.rfm_segment or "",
            scored_at=customer.rfm_scored_at,
        )
    return schemas.CustomerProfile(
        **summary(customer, mask=mask).model_dump(),
        birthday=customer.birthday,
        notes=customer.notes,
        refuses_calls=customer.refuses_calls,
        interest_level=customer.interest_level,  # type: ignore[arg-type]
        first_visit_at=customer.first_visit_at,
        first_purchase_at=customer.first_purchase_at,
        last_activity_at=customer.last_activity_at,
        rfm=rfm,
        allowed_follow_up_methods=allowed_methods(customer.refuses_calls),
        open_follow_up_tasks=[schemas.FollowUpTask.model_validate(t) for t in tasks],
        no_show_bookings=[
            schemas.NoShow(booking_id=booking_id, starts_at=at) for booking_id, at in no_shows
        ],
        timeline=entries,
        timeline_next_cursor=next_cursor,
    )


async def update_customer(
    session: AsyncSession,
    *,
    merchant_id: uuid.UUID,
    customer_id: uuid.UUID,
    data: schemas.CustomerUpdate,
    mask: bool,
) -> schemas.CustomerProfile:
    changes = data.model_dump(exclude_unset=True)
    for key in ("name", "tags", "refuses_calls"):
        if key in changes and changes[key] is None:
            changes.pop(key)  # null means "leave as is" for non-nullable fields
    if changes:
        updated = await CustomerRepository(session).update_fields(merchant_id, customer_id, changes)
        if updated is None:
            raise CustomerNotFound()
        if "interest_level" in changes:
            await schedule_interval_plans(session, merchant_id=merchant_id)
    return await profile(session, merchant_id=merchant_id, customer_id=customer_id, mask=mask)


# -- export ---------------------------------------------------------------------------------

EXPORT_COLUMNS = (
    "id",
    "name",
    "phone",
    "tier",
    "tags",
    "visits",
    "total_spend",
    "currency",
    "first_seen",
    "last_visit",
    "rfm_segment",
    "refuses_calls",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> str:
    """Text that a spreadsheet will not run as a formula (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_line(values: list[Any]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([csv_cell(v) for v in values])
    return buffer.getvalue()


def _yuan(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"


async def export_csv(
    session: AsyncSession,
    *,
    merchant_id: uuid.UUID,
    q: str | None,
    tier: str | None,
    segment_id: uuid.UUID | None,
    sort: schemas.SortKey,
    mask: bool,
    tz: str,
    now: datetime,
) -> AsyncIterator[bytes]:
    """UTF-8 with a BOM (so Excel reads the Chinese names), batches by keyset pagination."""
    filters = await _filters(
        session, merchant_id=merchant_id, q=q, tier=tier, segment_id=segment_id, now=now, mask=mask
    )
    local = zone(tz)
    yield ("\ufeff" + csv_line(list(EXPORT_COLUMNS))).encode()
    repo = CustomerRepository(session)
    after: tuple[Any, uuid.UUID] | None = None
    while True:
        rows = await repo.page(
            merchant_id=merchant_id, filters=filters, sort=sort, after=after, limit=EXPORT_BATCH
        )
        chunk = []
        for c in rows:
            chunk.append(
                csv_line(
                    [
                        c.id,
                        c.name,
                        mask_phone(c.phone) if mask else c.phone,
                        c.tier,
                        " ".join(c.tags or []),
                        c.visits,
                        _yuan(c.total_spend),
                        c.currency,
                        c.first_seen_at.astimezone(local).isoformat(timespec="seconds"),
                        c.last_visit_at.astimezone(local).isoformat(timespec="seconds")
                        if c.last_visit_at
                        else "",
                        c.rfm_segment,
                        "yes" if c.refuses_calls else "no",
                    ]
                )
            )
        if chunk:
            yield "".join(chunk).encode()
        if len(rows) < EXPORT_BATCH:
            return
        last = rows[-1]
        value = {
            "last_visit": last.last_visit_at,
            "total_spend": last.total_spend,
            "visits": last.visits,
        }[sort]
        after = (value, last.id)
