"""Queries of count cards (次卡): products, passes, and the conditional use of a pass.

The counter's queries (a pass's use, the candidates, the passes of a card or product) are
`core.lean.Statement`s run on the transaction's driver connection, a lean route's or an ORM
session's; the passes they load are detached objects, never flushed."""

from __future__ import annotations

import uuid
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Uuid, and_, bindparam, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from core.lean import Connection, Detached, Statement
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


_PASS = Detached(CountPass)


@cache
def _statements() -> dict[str, Statement]:
    p = CountPass.__table__
    c = p.c
    card = c.card_id == bindparam("card_id", type_=Uuid)
    usable = (text(_USABLE), text(_AT_SHOP))
    newest_first = (c.created_at.desc(), c.id.desc())
    cards = c.card_id == func.any(bindparam("card_ids", type_=ARRAY(Uuid())))
    return {
        "use": Statement(
            update(p)  # type: ignore[arg-type]
            .where(c.id == bindparam("pass_id", type_=Uuid), card, *usable)
            .values(uses_left=c.uses_left - 1)
            .returning(*_PASS.columns)
        ),
        "get": Statement(select(*_PASS.columns).where(c.id == bindparam("pass_id", type_=Uuid))),
        "candidates": Statement(
            select(c.id)
            .where(card, c.product_id == bindparam("product_id", type_=Uuid), *usable)
            .order_by(c.expires_at.asc().nulls_last(), c.created_at)
        ),
        "of_product": Statement(
            select(*_PASS.columns).where(
                card, c.product_id == bindparam("product_id", type_=Uuid), c.status == "active"
            )
        ),
        "of_cards": Statement(select(*_PASS.columns).where(cards).order_by(*newest_first)),
        "paid_of_cards": Statement(
            select(*_PASS.columns).where(cards, c.status == "active").order_by(*newest_first)
        ),
    }


async def use_pass(
    connection: Connection,
    pass_id: uuid.UUID,
    *,
    card_id: uuid.UUID,
    shop_id: uuid.UUID,
    now: datetime,
) -> CountPass | None:
    """Take one use, atomically, if the pass can be used now at this shop; None (and
    nothing changed) otherwise. The UPDATE's row lock queues concurrent uses; each
    re-checks `uses_left > 0` on the row it finally sees, so K uses left let exactly K
    through, and the CHECK (uses_left >= 0) is the backstop."""
    params = {"pass_id": pass_id, "card_id": card_id, "now": now, "at_shop_id": shop_id}
    row = await _statements()["use"].one(connection, params)
    return _PASS.build(row) if row is not None else None


async def get_pass(connection: Connection, pass_id: uuid.UUID) -> CountPass | None:
    row = await _statements()["get"].one(connection, {"pass_id": pass_id})
    return _PASS.build(row) if row is not None else None


async def candidates(
    connection: Connection,
    *,
    card_id: uuid.UUID,
    product_id: uuid.UUID,
    shop_id: uuid.UUID,
    now: datetime,
) -> list[uuid.UUID]:
    """The card's usable passes of a product here, the one expiring first first."""
    params = {"card_id": card_id, "product_id": product_id, "now": now, "at_shop_id": shop_id}
    return [row[0] for row in await _statements()["candidates"].all(connection, params)]


async def passes_of_cards(
    connection: Connection, card_ids: list[uuid.UUID], *, paid_only: bool
) -> dict[uuid.UUID, list[CountPass]]:
    """Each card's passes (paid ones only, or every purchase), newest first."""
    statement = _statements()["paid_of_cards" if paid_only else "of_cards"]
    grouped: dict[uuid.UUID, list[CountPass]] = {cid: [] for cid in card_ids}
    for row in await statement.all(connection, {"card_ids": card_ids}):
        found: CountPass = _PASS.build(row)
        grouped[found.card_id].append(found)
    return grouped


async def passes_of_product(
    connection: Connection, card_id: uuid.UUID, product_id: uuid.UUID
) -> list[CountPass]:
    rows = await _statements()["of_product"].all(
        connection, {"card_id": card_id, "product_id": product_id}
    )
    return [_PASS.build(row) for row in rows]
