"""Queries of count cards (次卡): products, passes, and the conditional use of a pass."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from memberships.models import CountPass, CountProduct

# usable now at a shop: paid, uses left, not expired, not restricted to other shops
# (the bind is not named `shop_id`: an UPDATE reserves column names for its SET values)
_USABLE = "status = 'active' AND uses_left > 0 AND (expires_at IS NULL OR expires_at > :now)"
_AT_SHOP = "(shop_ids IS NULL OR CAST(:at_shop_id AS uuid) = ANY(shop_ids))"


class CountRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_product(self, product: CountProduct) -> CountProduct:
        self.session.add(product)
        await self.session.flush()
        await self.session.refresh(product)
        return product

    async def get_product(self, product_id: uuid.UUID) -> CountProduct | None:
        return await self.session.get(CountProduct, product_id)

    async def products(
        self,
        program_id: uuid.UUID,
        after: tuple[datetime, uuid.UUID] | None,
        limit: int,
        *,
        active_only: bool,
    ) -> list[CountProduct]:
        stmt = select(CountProduct).where(CountProduct.program_id == program_id)
        if active_only:
            stmt = stmt.where(CountProduct.active.is_(True))
        if after is not None:
            stmt = stmt.where(
                or_(
                    CountProduct.created_at > after[0],
                    and_(CountProduct.created_at == after[0], CountProduct.id > after[1]),
                )
            )
        stmt = stmt.order_by(CountProduct.created_at, CountProduct.id).limit(limit + 1)
        return list((await self.session.execute(stmt)).scalars())

    async def set_product_active(
        self, product_id: uuid.UUID, *, program_id: uuid.UUID, active: bool
    ) -> CountProduct | None:
        stmt = (
            update(CountProduct)
            .where(CountProduct.id == product_id, CountProduct.program_id == program_id)
            .values(active=active, updated_at=func.now())
            .returning(CountProduct)
            .execution_options(synchronize_session=False, populate_existing=True)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def add_pass(self, count_pass: CountPass) -> CountPass:
        self.session.add(count_pass)
        await self.session.flush()
        await self.session.refresh(count_pass)
        return count_pass

    async def pass_by_reference(self, reference: str) -> CountPass | None:
        stmt = select(CountPass).where(CountPass.provider_reference == reference)
        return (
            await self.session.execute(stmt, execution_options={"populate_existing": True})
        ).scalar_one_or_none()

    async def get_pass(self, pass_id: uuid.UUID) -> CountPass | None:
        stmt = select(CountPass).where(CountPass.id == pass_id)
        return (
            await self.session.execute(stmt, execution_options={"populate_existing": True})
        ).scalar_one_or_none()

    async def complete(
        self, pass_id: uuid.UUID, *, paid: bool, at: datetime, expires_at: datetime | None
    ) -> CountPass | None:
        """Move a pending pass on exactly once: paid → active with all its uses, else
        failed. None if it was no longer pending."""
        values: dict[str, Any] = {"status": "failed"}
        if paid:
            values = {
                "status": "active",
                "uses_left": CountPass.uses_total,
                "activated_at": at,
                "expires_at": expires_at,
            }
        stmt = (
            update(CountPass)
            .where(CountPass.id == pass_id, CountPass.status == "pending")
            .values(**values)
            .returning(CountPass)
            .execution_options(synchronize_session=False)
        )
        return (
            await self.session.execute(stmt, execution_options={"populate_existing": True})
        ).scalar_one_or_none()

    async def use(
        self, pass_id: uuid.UUID, *, card_id: uuid.UUID, shop_id: uuid.UUID, now: datetime
    ) -> CountPass | None:
        """Take one use, atomically, if the pass can be used now at this shop; None (and
        nothing changed) otherwise. The UPDATE's row lock queues concurrent uses; each
        re-checks `uses_left > 0` on the row it finally sees, so K uses left let exactly K
        through, and the CHECK (uses_left >= 0) is the backstop."""
        stmt = (
            update(CountPass)
            .where(
                CountPass.id == pass_id,
                CountPass.card_id == card_id,
                text(_USABLE),
                text(_AT_SHOP),
            )
            .values(uses_left=CountPass.uses_left - 1)
            .returning(CountPass)
            .execution_options(synchronize_session=False)
        )
        return (
            await self.session.execute(
                stmt,
                {"now": now, "at_shop_id": shop_id},
                execution_options={"populate_existing": True},
            )
        ).scalar_one_or_none()

    async def give_back(self, pass_id: uuid.UUID) -> CountPass | None:
        """A reversed use: one use back (never above what was bought)."""
        stmt = (
            update(CountPass)
            .where(CountPass.id == pass_id, CountPass.uses_left < CountPass.uses_total)
            .values(uses_left=CountPass.uses_left + 1)
            .returning(CountPass)
            .execution_options(synchronize_session=False)
        )
        return (
            await self.session.execute(stmt, execution_options={"populate_existing": True})
        ).scalar_one_or_none()

    async def candidates(
        self, *, card_id: uuid.UUID, product_id: uuid.UUID, shop_id: uuid.UUID, now: datetime
    ) -> list[uuid.UUID]:
        """The card's usable passes of a product here, the one expiring first first."""
        stmt = (
            select(CountPass.id)
            .where(
                CountPass.card_id == card_id,
                CountPass.product_id == product_id,
                text(_USABLE),
                text(_AT_SHOP),
            )
            .order_by(CountPass.expires_at.asc().nulls_last(), CountPass.created_at)
        )
        rows = await self.session.execute(stmt, {"now": now, "at_shop_id": shop_id})
        return list(rows.scalars())

    async def passes_of_cards(
        self, card_ids: list[uuid.UUID], *, paid_only: bool
    ) -> dict[uuid.UUID, list[CountPass]]:
        stmt = select(CountPass).where(CountPass.card_id.in_(card_ids))
        if paid_only:
            stmt = stmt.where(CountPass.status == "active")
        stmt = stmt.order_by(CountPass.created_at.desc(), CountPass.id.desc())
        grouped: dict[uuid.UUID, list[CountPass]] = {cid: [] for cid in card_ids}
        for found in (await self.session.execute(stmt)).scalars():
            grouped[found.card_id].append(found)
        return grouped

    async def passes_of_product(self, card_id: uuid.UUID, product_id: uuid.UUID) -> list[CountPass]:
        stmt = select(CountPass).where(
            CountPass.card_id == card_id,
            CountPass.product_id == product_id,
            CountPass.status == "active",
        )
        return list((await self.session.execute(stmt)).scalars())
