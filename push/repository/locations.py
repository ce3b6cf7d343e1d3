"""Locations and activity areas: pings, last-known points, learned areas, retention."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.bulk import batches
from push.models import (
    ActivityArea,
    AreaRecompute,
    LocationPing,
    MerchantDailyCount,
    UserDailyCount,
)


def geography_point(lat: float, lng: float) -> Any:
    return func.ST_SetSRID(func.ST_MakePoint(lng, lat), 4326).cast(LocationPing.location.type)


# ---------------------------------------------------------------- locations and areas


@dataclass(frozen=True)
class AreaRow:
    kind: str
    lat: float
    lng: float
    radius_m: int
    share: float | None
    pings: int
    observed_at: datetime


class LocationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_ping(self, *, user_id: uuid.UUID, lat: float, lng: float, at: datetime) -> None:
        """Store the ping, move the user's last-known point forward, and ask for a recompute."""
        params = {"user_id": user_id, "lat": lat, "lng": lng, "at": at}
        await self.session.execute(
            text("""
                INSERT INTO push_location_pings (user_id, location, observed_at)
                VALUES (:user_id, ST_SetSRID(ST_MakePoint(:lng, :lat), 4326)::geography, :at)
            """),
            params,
        )
        await self.session.execute(
            text("""
                INSERT INTO push_activity_areas AS a
                  (user_id, kind, centre, radius_m, share, pings, observed_at)
                VALUES (:user_id, 'last_known',
                        ST_SetSRID(ST_MakePoint(:lng, :lat), 4326)::geography, 0, NULL, 1, :at)
                ON CONFLICT (user_id) WHERE kind = 'last_known' DO UPDATE
                  SET centre = EXCLUDED.centre, observed_at = EXCLUDED.observed_at
                  WHERE a.observed_at <= EXCLUDED.observed_at
            """),
            params,
        )
        await self.request_recompute([user_id])

    async def request_recompute(self, user_ids: list[uuid.UUID]) -> None:
        for batch in batches(user_ids, 1):  # under the bind-parameter limit (core.bulk)
            stmt = (
                insert(AreaRecompute)
                .values([{"user_id": u} for u in batch])
                .on_conflict_do_nothing(index_elements=[AreaRecompute.user_id])
            )
            await self.session.execute(stmt)

    async def forget_locations(self, user_id: uuid.UUID) -> tuple[int, int]:
        pings = await self.session.execute(
            delete(LocationPing).where(LocationPing.user_id == user_id)
        )
        areas = await self.session.execute(
            delete(ActivityArea).where(ActivityArea.user_id == user_id)
        )
        await self.session.execute(delete(AreaRecompute).where(AreaRecompute.user_id == user_id))
        return pings.rowcount, areas.rowcount  # type: ignore[attr-defined]

    async def list_areas(self, user_id: uuid.UUID) -> list[AreaRow]:
        rows = await self.session.execute(
            text("""
                SELECT kind, ST_Y(centre::geometry), ST_X(centre::geometry), radius_m, share, pings,
                       observed_at
                FROM push_activity_areas WHERE user_id = :user_id
                ORDER BY kind DESC, share DESC NULLS LAST, id
            """),
            {"user_id": user_id},
        )
        return [AreaRow(*row) for row in rows]

    async def take_recompute_batch(self, limit: int) -> list[uuid.UUID]:
        rows = await self.session.execute(
            text("""
                DELETE FROM push_area_recompute WHERE user_id IN (
                  SELECT user_id FROM push_area_recompute ORDER BY requested_at
                  LIMIT :limit FOR UPDATE SKIP LOCKED)
                RETURNING user_id
            """),
            {"limit": limit},
        )
        return [r[0] for r in rows]

    async def learn_areas(
        self,
        *,
        user_ids: list[uuid.UUID],
        since: datetime,
        now: datetime,
        eps_m: float,
        min_points: int,
        min_share: float,
        max_areas: int,
    ) -> int:
        """Replace the users' usual areas with DBSCAN clusters of their recent pings.

        Pings are clustered per user in Web Mercator; its scale grows with 1/cos(latitude), so
        the tolerance is scaled by the user's mean latitude to mean `eps_m` metres on the ground.
        An area is the cluster's centroid, the 90th-percentile distance of its pings from it
        (at least 50 m) and its share of the user's pings.
        """
        await self.session.execute(
            delete(ActivityArea).where(
                ActivityArea.user_id.in_(user_ids), ActivityArea.kind == "usual"
            )
        )
        result = await self.session.execute(
            text("""
                WITH recent AS (
                  SELECT user_id, location, ST_Transform(location::geometry, 3857) AS merc,
                         count(*) OVER w AS total,
                         avg(ST_Y(location::geometry)) OVER w AS mean_lat
                  FROM push_location_pings
                  WHERE user_id = ANY(:user_ids) AND observed_at >= :since
                  WINDOW w AS (PARTITION BY user_id)
                ), clustered AS (
                  SELECT user_id, location, total,
                         ST_ClusterDBSCAN(merc, eps => :eps_m / cos(radians(mean_lat)),
                                          minpoints => :min_points)
                           OVER (PARTITION BY user_id) AS cid
                  FROM recent
                ), centred AS (
                  SELECT user_id, cid, location, total,
                         ST_Centroid(ST_Collect(location::geometry)
                           OVER (PARTITION BY user_id, cid))::geography AS centre
                  FROM clustered WHERE cid IS NOT NULL
                ), areas AS (
                  SELECT user_id, centre,
                         greatest(50, percentile_cont(0.9) WITHIN GROUP
                           (ORDER BY ST_Distance(location, centre)))::int AS radius_m,
                         count(*)::float8 / max(total) AS share,
                         count(*)::int AS pings
                  FROM centred GROUP BY user_id, cid, centre
                ), ranked AS (
                  SELECT *, row_number() OVER (PARTITION BY user_id ORDER BY share DESC) AS rank
                  FROM areas WHERE share >= :min_share
                )
                INSERT INTO push_activity_areas
                  (user_id, kind, centre, radius_m, share, pings, observed_at)
                SELECT user_id, 'usual', centre, radius_m, share, pings, :now
                FROM ranked WHERE rank <= :max_areas
            """),
            {
                "user_ids": user_ids,
                "since": since,
                "now": now,
                "eps_m": eps_m,
                "min_points": min_points,
                "min_share": min_share,
                "max_areas": max_areas,
            },
        )
        return result.rowcount  # type: ignore[attr-defined, no-any-return]

    async def purge_old_locations(self, *, before: datetime) -> int:
        """Delete pings (and last-known points) past retention; their users get recomputed."""
        result = await self.session.execute(
            text("""
                WITH gone AS (
                  DELETE FROM push_location_pings WHERE observed_at < :before RETURNING user_id
                ), stale AS (
                  DELETE FROM push_activity_areas
                  WHERE kind = 'last_known' AND observed_at < :before RETURNING user_id
                )
                INSERT INTO push_area_recompute (user_id)
                SELECT DISTINCT user_id FROM gone
                ON CONFLICT (user_id) DO NOTHING
            """),
            {"before": before},
        )
        return result.rowcount  # type: ignore[attr-defined, no-any-return]

    async def purge_old_counts(self, *, before: datetime) -> int:
        day = before.date()
        a = await self.session.execute(
            delete(MerchantDailyCount).where(MerchantDailyCount.day < day)
        )
        b = await self.session.execute(delete(UserDailyCount).where(UserDailyCount.day < day))
        return a.rowcount + b.rowcount  # type: ignore[attr-defined, no-any-return]
