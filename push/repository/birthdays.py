"""Birthday rules and the greetings sent (one per customer and birthday year)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.ids import new_id
from push.models import BirthdayGreeting, BirthdayRule


class BirthdayRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def rule(self, merchant_id: uuid.UUID) -> BirthdayRule | None:
        return await self.session.get(BirthdayRule, merchant_id, populate_existing=True)

    async def put_rule(self, values: dict[str, Any], now: datetime) -> BirthdayRule:
        stmt = (
            insert(BirthdayRule)
            .values(**values, updated_at=now)
            .on_conflict_do_update(
                index_elements=["merchant_id"],
                set_={**{k: v for k, v in values.items() if k != "merchant_id"}, "updated_at": now},
            )
            .returning(BirthdayRule)
            .execution_options(populate_existing=True)
        )
        return (await self.session.execute(stmt)).scalar_one()

    async def enabled_rules(self) -> list[BirthdayRule]:
        stmt = select(BirthdayRule).where(BirthdayRule.enabled).order_by(BirthdayRule.merchant_id)
        return list((await self.session.execute(stmt)).scalars())

    async def page(
        self,
        merchant_id: uuid.UUID,
        *,
        after: tuple[datetime, uuid.UUID] | None,
        limit: int,
    ) -> list[BirthdayGreeting]:
        """The merchant's greetings, latest first (keyset on created_at, id)."""
        stmt = select(BirthdayGreeting).where(BirthdayGreeting.merchant_id == merchant_id)
        if after is not None:
            stmt = stmt.where(
                tuple_(BirthdayGreeting.created_at, BirthdayGreeting.id) < tuple_(*after)
            )
        stmt = stmt.order_by(BirthdayGreeting.created_at.desc(), BirthdayGreeting.id.desc())
        return list((await self.session.execute(stmt.limit(limit))).scalars())

    async def claim(
        self,
        *,
        merchant_id: uuid.UUID,
        customer_id: uuid.UUID,
        year: int,
        birthday_on: date,
        greeted_on: date,
        channel: str,
    ) -> uuid.UUID | None:
        """Insert the greeting row first: None when another run (or an earlier one) has it,
        so of concurrent runs exactly one issues the coupon and sends the message."""
        stmt = (
            insert(BirthdayGreeting)
            .values(
                id=new_id(),
                merchant_id=merchant_id,
                customer_id=customer_id,
                year=year,
                birthday_on=birthday_on,
                greeted_on=greeted_on,
                channel=channel,
                delivery="failed",
            )
            .on_conflict_do_nothing(index_elements=["merchant_id", "customer_id", "year"])
            .returning(BirthdayGreeting.id)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def finish(self, greeting_id: uuid.UUID, *, coupon_issued: bool, delivery: str) -> None:
        greeting = await self.session.get(BirthdayGreeting, greeting_id)
        assert greeting is not None
        greeting.coupon_issued, greeting.delivery = coupon_issued, delivery
        await self.session.flush()
