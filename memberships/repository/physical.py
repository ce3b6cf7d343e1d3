"""Queries of pre-printed card numbers: bulk import, the one-time bind, counter lookup.

The counter's lookup and a card's bound number are `core.lean.Statement`s (they run on the
transaction's driver connection, a lean route's or an ORM session's)."""

from __future__ import annotations

import uuid
from datetime import datetime
from functools import cache

from sqlalchemy import Uuid, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.ids import new_id
from core.lean import Connection, ShopSql, Statement
from memberships.models import PhysicalCard


class PhysicalCardRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def insert_many(
        self, *, merchant_id: uuid.UUID, program_id: uuid.UUID, numbers: list[str]
    ) -> set[str]:
        """Insert the numbers the merchant does not have yet; returns those inserted (a
        number already imported, perhaps concurrently, is skipped by the unique key)."""
        if not numbers:
            return set()
        stmt = (
            insert(PhysicalCard)
            .values(
                [
                    {
                        "id": new_id(),
                        "merchant_id": merchant_id,
                        "program_id": program_id,
                        "number": n,
                    }
                    for n in numbers
                ]
            )  # fmt: skip
            .on_conflict_do_nothing(index_elements=["merchant_id", "number"])
            .returning(PhysicalCard.number)
        )
        return set((await self.session.execute(stmt)).scalars())

    async def existing(self, merchant_id: uuid.UUID, numbers: list[str]) -> set[str]:
        stmt = select(PhysicalCard.number).where(
            PhysicalCard.merchant_id == merchant_id, PhysicalCard.number.in_(numbers)
        )
        return set((await self.session.execute(stmt)).scalars())

    async def get(self, merchant_id: uuid.UUID, number: str) -> PhysicalCard | None:
        stmt = select(PhysicalCard).where(
            PhysicalCard.merchant_id == merchant_id, PhysicalCard.number == number
        )
        return (
            await self.session.execute(stmt, execution_options={"populate_existing": True})
        ).scalar_one_or_none()

    async def bind(
        self,
        *,
        merchant_id: uuid.UUID,
        program_id: uuid.UUID,
        number: str,
        card_id: uuid.UUID,
        user_id: uuid.UUID,
        now: datetime,
    ) -> PhysicalCard | None:
        """Bind an unbound number of the program to the card, exactly once; None if the
        number is unknown, of another program, or was ever bound (the conditional UPDATE
        lets one of concurrent binds through; the unique card_id is the backstop)."""
        stmt = (
            update(PhysicalCard)
            .where(
                PhysicalCard.merchant_id == merchant_id,
                PhysicalCard.number == number,
                PhysicalCard.program_id == program_id,
                PhysicalCard.bound_at.is_(None),
            )
            .values(card_id=card_id, bound_at=now, bound_by_user_id=user_id)
            .returning(PhysicalCard)
            .execution_options(synchronize_session=False)
        )
        return (
            await self.session.execute(stmt, execution_options={"populate_existing": True})
        ).scalar_one_or_none()


@cache
def _numbers_statement() -> Statement:
    p = PhysicalCard.__table__.c
    ids = bindparam("card_ids", type_=ARRAY(Uuid()))
    return Statement(select(p.card_id, p.number).where(p.card_id == func.any(ids)))


async def number_of_cards(
    connection: Connection, card_ids: list[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """The pre-printed number bound to each of these cards (those that have one)."""
    rows = await _numbers_statement().all(connection, {"card_ids": card_ids})
    return {row[0]: row[1] for row in rows}


@cache
def _at_shop_statement(shop_owned: ShopSql) -> Statement:
    p = PhysicalCard.__table__.c
    return Statement(
        select(p.card_id).where(
            p.number == bindparam("p_number", type_=p.number.type),
            p.card_id.is_not(None),
            shop_owned(p.merchant_id, bindparam("p_shop_id", type_=Uuid)),
        )
    )


async def card_at_shop(
    connection: Connection, number: str, *, shop_id: uuid.UUID, shop_owned: ShopSql
) -> uuid.UUID | None:
    """The card bound to this number among the numbers of the shop's merchant
    (`shop_owned` from the merchants service: "the shop is this merchant's")."""
    row = await _at_shop_statement(shop_owned).one(
        connection, {"p_number": number, "p_shop_id": shop_id}
    )
    return row[0] if row is not None else None
