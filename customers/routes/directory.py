"""Customer directory, profiles, export, segments, analytics."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Query, Request, status
from fastapi.responses import StreamingResponse

from accounts import service as accounts_service
from core.database import SessionDep, get_sessionmaker
from core.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page
from core.redis import RedisDep
from core.timezones import utcnow
from customers import schemas
from customers.auth import AnyStaff, ManagerStaff, StaffContext
from customers.repository.directory import CustomerRepository
from customers.service import analytics, directory, segments, walk_in

router = APIRouter(prefix="/v1/merchants/{merchant_id}", tags=["customers"])

SearchQuery = Annotated[
    str | None, Query(max_length=64, description="Name or phone digits (card number later)")
]
TierQuery = Annotated[str | None, Query(max_length=32)]


def masks_phone(staff: StaffContext) -> bool:
    return not staff.at_least("manager")


@router.get("/customers", response_model=Page[schemas.CustomerSummary])
async def list_customers(
    merchant_id: uuid.UUID,
    staff: AnyStaff,
    session: SessionDep,
    redis: RedisDep,
    q: SearchQuery = None,
    tier: TierQuery = None,
    segment_id: uuid.UUID | None = None,
    sort: schemas.SortKey = "last_visit",
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Page[schemas.CustomerSummary]:
    if q and q.strip():
        await directory.take_search_budget(
            redis,
            merchant_id=staff.merchant_id,
            staff_user_id=staff.user_id,
            q=q,
            mask=masks_phone(staff),
        )
    items, next_cursor = await directory.list_customers(
        session,
        merchant_id=staff.merchant_id,
        q=q,
        tier=tier,
        segment_id=segment_id,
        sort=sort,
        cursor=cursor,
        limit=limit,
        mask=masks_phone(staff),
        now=utcnow(),
    )
    await directory.log_access(
        session,
        merchant_id=staff.merchant_id,
        staff_user_id=staff.user_id,
        action="list",
        detail={"q": q, "tier": tier, "segment_id": segment_id and str(segment_id), "sort": sort},
    )
    return Page(items=items, next_cursor=next_cursor)


@router.post(
    "/customers", status_code=status.HTTP_201_CREATED, response_model=schemas.CustomerProfile
)
async def create_walk_in_customer(
    merchant_id: uuid.UUID, data: schemas.WalkInCreate, staff: AnyStaff, session: SessionDep
) -> schemas.CustomerProfile:
    """A regular without the app, added by staff; linked to the app account with this phone
    (now, or when one signs in). 409 `customer_exists` (with `customer_id`) for a known phone."""
    customer_id = await walk_in.create_walk_in(
        session, merchant_id=staff.merchant_id, data=data, now=utcnow()
    )
    await directory.log_access(
        session,
        merchant_id=staff.merchant_id,
        staff_user_id=staff.user_id,
        action="create",
        customer_id=customer_id,
    )
    return await directory.profile(
        session, merchant_id=staff.merchant_id, customer_id=customer_id, mask=masks_phone(staff)
    )


@router.get(
    "/customers/export.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}},
)
async def export_customers(
    merchant_id: uuid.UUID,
    staff: ManagerStaff,
    session: SessionDep,
    request: Request,
    q: SearchQuery = None,
    tier: TierQuery = None,
    segment_id: uuid.UUID | None = None,
    sort: schemas.SortKey = "last_visit",
) -> StreamingResponse:
    now = utcnow()
    tz = await accounts_service.merchant_timezone(session, merchant_id=staff.merchant_id)
    if segment_id is not None:  # a wrong segment is a 404 now, not a broken stream later
        await segments.get_segment(
            session, merchant_id=staff.merchant_id, segment_id=segment_id, now=now
        )
    await directory.log_access(
        session,
        merchant_id=staff.merchant_id,
        staff_user_id=staff.user_id,
        action="export",
        detail={"q": q, "tier": tier, "segment_id": segment_id and str(segment_id), "sort": sort},
    )
    # The request's session is committed (with the audit row) before streaming starts, so the
    # stream reads through its own session.
    sessionmaker = get_sessionmaker(request)

    async def body() -> AsyncIterator[bytes]:
        async with sessionmaker() as stream_session:
            async for chunk in directory.export_csv(
                stream_session,
                merchant_id=staff.merchant_id,
                q=q,
                tier=tier,
                segment_id=segment_id,
                sort=sort,
                mask=masks_phone(staff),
                tz=tz,
                now=now,
            ):
                yield chunk

    filename = f"customers-{now.strftime('%Y%m%d')}.csv"
    return StreamingResponse(
        body(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/customers/{customer_id}", response_model=schemas.CustomerProfile)
async def get_customer(
    merchant_id: uuid.UUID, customer_id: uuid.UUID, staff: AnyStaff, session: SessionDep
) -> schemas.CustomerProfile:
    result = await directory.profile(
        session, merchant_id=staff.merchant_id, customer_id=customer_id, mask=masks_phone(staff)
    )
    await directory.log_access(
        session,
        merchant_id=staff.merchant_id,
        staff_user_id=staff.user_id,
        action="view",
        customer_id=customer_id,
    )
    return result


@router.get("/customers/{customer_id}/timeline", response_model=Page[schemas.TimelineEntry])
async def get_timeline(
    merchant_id: uuid.UUID,
    customer_id: uuid.UUID,
    staff: AnyStaff,
    session: SessionDep,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Page[schemas.TimelineEntry]:
    await directory.get_customer(session, merchant_id=staff.merchant_id, customer_id=customer_id)
    items, next_cursor = await directory.timeline(
        session,
        merchant_id=staff.merchant_id,
        customer_id=customer_id,
        cursor=cursor,
        limit=limit,
    )
    await directory.log_access(
        session,
        merchant_id=staff.merchant_id,
        staff_user_id=staff.user_id,
        action="view_timeline",
        customer_id=customer_id,
    )
    return Page(items=items, next_cursor=next_cursor)


@router.patch("/customers/{customer_id}", response_model=schemas.CustomerProfile)
async def update_customer(
    merchant_id: uuid.UUID,
    customer_id: uuid.UUID,
    data: schemas.CustomerUpdate,
    staff: AnyStaff,
    session: SessionDep,
) -> schemas.CustomerProfile:
    result = await directory.update_customer(
        session,
        merchant_id=staff.merchant_id,
        customer_id=customer_id,
        data=data,
        mask=masks_phone(staff),
    )
    await directory.log_access(
        session,
        merchant_id=staff.merchant_id,
        staff_user_id=staff.user_id,
        action="update",
        customer_id=customer_id,
        detail={"fields": sorted(data.model_dump(exclude_unset=True))},
    )
    return result


@router.get("/customer-access-log", response_model=list[schemas.AccessLogEntry])
async def access_log(
    merchant_id: uuid.UUID,
    staff: ManagerStaff,
    session: SessionDep,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> list[schemas.AccessLogEntry]:
    rows = await CustomerRepository(session).access_log(staff.merchant_id, limit)
    return [schemas.AccessLogEntry.model_validate(r) for r in rows]


# -- segments -------------------------------------------------------------------------------


@router.post("/segments", status_code=status.HTTP_201_CREATED, response_model=schemas.Segment)
async def create_segment(
    merchant_id: uuid.UUID, data: schemas.SegmentCreate, staff: ManagerStaff, session: SessionDep
) -> schemas.Segment:
    return await segments.create_segment(
        session, merchant_id=staff.merchant_id, created_by=staff.user_id, data=data, now=utcnow()
    )


@router.get("/segments", response_model=Page[schemas.Segment])
async def list_segments(
    merchant_id: uuid.UUID,
    staff: AnyStaff,
    session: SessionDep,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Page[schemas.Segment]:
    items, next_cursor = await segments.list_segments(
        session, merchant_id=staff.merchant_id, cursor=cursor, limit=limit, now=utcnow()
    )
    return Page(items=items, next_cursor=next_cursor)


@router.post("/segments/preview", response_model=schemas.SegmentPreview)
async def preview_segment(
    merchant_id: uuid.UUID, rules: schemas.SegmentRules, staff: AnyStaff, session: SessionDep
) -> schemas.SegmentPreview:
    count = await segments.preview(
        session, merchant_id=staff.merchant_id, rules=rules, now=utcnow()
    )
    return schemas.SegmentPreview(customers=count)


@router.get("/segments/{segment_id}", response_model=schemas.Segment)
async def get_segment(
    merchant_id: uuid.UUID, segment_id: uuid.UUID, staff: AnyStaff, session: SessionDep
) -> schemas.Segment:
    return await segments.get_segment(
        session, merchant_id=staff.merchant_id, segment_id=segment_id, now=utcnow()
    )


# -- analytics ------------------------------------------------------------------------------


@router.get("/analytics", response_model=schemas.Analytics)
async def get_analytics(
    merchant_id: uuid.UUID,
    staff: ManagerStaff,
    session: SessionDep,
    weeks: Annotated[int, Query(ge=1, le=104)] = analytics.DEFAULT_WEEKS,
    churn_k: Annotated[float, Query(ge=1.0, le=20.0)] = analytics.DEFAULT_CHURN_K,
    churn_limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> schemas.Analytics:
    result = await analytics.analytics(
        session,
        merchant_id=staff.merchant_id,
        now=utcnow(),
        weeks=weeks,
        churn_k=churn_k,
        churn_limit=churn_limit,
    )
    await directory.log_access(
        session, merchant_id=staff.merchant_id, staff_user_id=staff.user_id, action="analytics"
    )
    return result


@router.post("/analytics/rfm-refresh", response_model=schemas.RfmRefresh)
async def refresh_rfm(
    merchant_id: uuid.UUID,
    staff: ManagerStaff,
    session: SessionDep,
    request: Request,
    background: BackgroundTasks,
) -> schemas.RfmRefresh:
    """Store current RFM scores now (the hourly job does this for every merchant)."""
    updated = await analytics.refresh_rfm_scores(
        session, merchant_id=staff.merchant_id, now=utcnow()
    )
    if updated:
        # after the response, i.e. after the session committed the new scores
        background.add_task(analytics.after_rfm_refresh, get_sessionmaker(request))
    return schemas.RfmRefresh(updated=updated)
