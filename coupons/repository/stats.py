"""Campaign statistics: totals and per-day counts in the merchant's timezone."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from coupons.models import Coupon, Redemption


@dataclass(frozen=True)
class Totals:
    issued: int
    claimed: int
    expired: int
    redeemed: int
    reversed: int


class StatsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def totals(self, campaign_id: uuid.UUID, *, now: datetime) -> Totals:
        coupons = (
            await self.session.execute(
                select(
                    func.count(),
                    func.count().filter(Coupon.source == "claim"),
                    func.count().filter(Coupon.status == "active", Coupon.valid_until <= now),
                ).where(Coupon.campaign_id == campaign_id)
            )
        ).one()
        redemptions = (
            await self.session.execute(
                select(
                    func.count().filter(Redemption.reversed_at.is_(None)),
                    func.count().filter(Redemption.reversed_at.is_not(None)),
                ).where(Redemption.campaign_id == campaign_id)
            )
        ).one()
        return Totals(coupons[0], coupons[1], coupons[2], redemptions[0], redemptions[1])

    async def by_day(self, campaign_id: uuid.UUID, *, timezone: str) -> dict[date, list[int]]:
        """{local date: [issued, claimed, redeemed, reversed]} in the merchant's timezone."""

        def local_day(column: Any) -> Any:
            return cast(func.timezone(timezone, column), Date)

        days: dict[date, list[int]] = {}
        issued_day = local_day(Coupon.issued_at)
        for day, issued, claimed in await self.session.execute(
            select(issued_day, func.count(), func.count().filter(Coupon.source == "claim"))
            .where(Coupon.campaign_id == campaign_id)
            .group_by(issued_day)
        ):
            days.setdefault(day, [0, 0, 0, 0])[0:2] = [issued, claimed]
        redeemed_day = local_day(Redemption.redeemed_at)
        for day, redeemed in await self.session.execute(
            select(redeemed_day, func.count())
            .where(Redemption.campaign_id == campaign_id, Redemption.reversed_at.is_(None))
            .group_by(redeemed_day)
        ):
            days.setdefault(day, [0, 0, 0, 0])[2] = redeemed
        reversed_day = local_day(Redemption.reversed_at)
        for day, reversed_count in await self.session.execute(
            select(reversed_day, func.count())
            .where(Redemption.campaign_id == campaign_id, Redemption.reversed_at.is_not(None))
            .group_by(reversed_day)
        ):
            days.setdefault(day, [0, 0, 0, 0])[3] = reversed_count
        return days
