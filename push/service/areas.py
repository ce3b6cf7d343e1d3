"""Opt-in location pings, their retention, and the activity areas learned from them."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import InvalidInput
from core.i18n import localised
from geo.schemas import Crs, LatLng
from push import repository, schemas

# DBSCAN over the last 30 days: pings within 250 m of each other, at least 3 of them, make
# an area; areas holding under 10% of the user's pings are noise (a one-off trip).
CLUSTER_EPS_M = 250.0
CLUSTER_MIN_POINTS = 3
MIN_AREA_SHARE = 0.10
MAX_AREAS_PER_USER = 5
# A last-known point younger than this is where the user is now, and counts even for users
# whose usual areas are elsewhere.
CURRENT_LOCATION_MAX_AGE = timedelta(hours=2)
FUTURE_TOLERANCE = timedelta(minutes=5)


async def record_ping(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    data: schemas.LocationPingCreate,
    now: datetime,
    retention: timedelta,
) -> schemas.LocationPingAccepted:
    at = data.at or now
    if at > now + FUTURE_TOLERANCE:
        raise InvalidInput(
            localised("位置上报时间不能晚于现在", "The location is dated in the future"),
            loc=["body", "at"],
        )
    if at < now - retention:
        raise InvalidInput(
            localised("位置上报时间早于保留期限", "The location is older than we keep locations"),
            loc=["body", "at"],
        )
    point = data.location.to_wgs84(data.crs)
    await repository.LocationRepository(session).add_ping(
        user_id=user_id, lat=point.lat, lng=point.lng, at=at
    )
    return schemas.LocationPingAccepted(observed_at=at)


async def forget_locations(
    session: AsyncSession, *, user_id: uuid.UUID
) -> schemas.LocationsForgotten:
    pings, areas = await repository.LocationRepository(session).forget_locations(user_id)
    return schemas.LocationsForgotten(pings_deleted=pings, areas_deleted=areas)


async def list_activity_areas(
    session: AsyncSession, *, user_id: uuid.UUID, crs: Crs
) -> schemas.ActivityAreas:
    rows = await repository.LocationRepository(session).list_areas(user_id)
    items = [
        schemas.ActivityArea(
            centre=LatLng.from_wgs84(r.lat, r.lng, crs),
            radius_m=r.radius_m,
            share=round(r.share or 0.0, 4),
            pings=r.pings,
            computed_at=r.observed_at,
        )
        for r in rows
        if r.kind == "usual"
    ]
    last = next((r for r in rows if r.kind == "last_known"), None)
    return schemas.ActivityAreas(
        items=items,
        last_known=schemas.LastKnownLocation(
            location=LatLng.from_wgs84(last.lat, last.lng, crs), observed_at=last.observed_at
        )
        if last
        else None,
        crs=crs,
    )


async def learn_pending_areas(
    session: AsyncSession, *, now: datetime, retention: timedelta, limit: int = 500
) -> int:
    """Recompute the areas of up to `limit` users whose pings changed; returns users done."""
    user_ids = await repository.LocationRepository(session).take_recompute_batch(limit)
    if user_ids:
        await repository.LocationRepository(session).learn_areas(
            user_ids=user_ids,
            since=now - retention,
            now=now,
            eps_m=CLUSTER_EPS_M,
            min_points=CLUSTER_MIN_POINTS,
            min_share=MIN_AREA_SHARE,
            max_areas=MAX_AREAS_PER_USER,
        )
    return len(user_ids)


async def purge_expired_locations(
    session: AsyncSession, *, now: datetime, retention: timedelta
) -> int:
    purged = await repository.LocationRepository(session).purge_old_locations(
        before=now - retention
    )
    # caps are per local day; two days back covers every timezone
    await repository.LocationRepository(session).purge_old_counts(before=now - timedelta(days=2))
    return purged
