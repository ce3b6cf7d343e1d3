"""Pre-printed (physical) card numbers: a merchant imports them per program, staff bind one
to a member's card once, and the counter then accepts it wherever it accepts a card number."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Forbidden
from core.i18n import localised
from core.lean import connection_of
from memberships import physical, schemas
from memberships.physical import NumberRejected, Row
from memberships.repository.cards import lock_card
from memberships.repository.physical import PhysicalCardRepository, number_of_cards
from memberships.repository.programs import ProgramRepository
from memberships.service.cards import access_card
from memberships.service.errors import (
    CardHasPhysicalCard,
    CardNotFound,
    PhysicalCardBound,
    PhysicalCardInvalid,
    PhysicalCardNotFound,
    ProgramNotFound,
)

MAX_REPORTED = 1000
BATCH = 1000


@dataclass
class ImportTally:
    """An import's running result; one tally spans every batch of a file."""

    rows: int = 0
    imported: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    examples: list[schemas.RejectedRow] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)  # numbers of the file so far

    def reject(self, row: Row, reason: str) -> None:
        self.rejected[reason] += 1
        if len(self.examples) < MAX_REPORTED:
            self.examples.append(schemas.RejectedRow(row=row.line, number=row.raw, reason=reason))

    def report(self) -> schemas.PhysicalCardImport:
        return schemas.PhysicalCardImport(
            rows=self.rows,
            imported=self.imported,
            rejected_total=sum(self.rejected.values()),
            rejected_by_reason=dict(self.rejected.most_common()),
            rejected=self.examples,
        )


async def import_batch(
    session: AsyncSession,
    *,
    merchant_id: uuid.UUID,
    program_id: uuid.UUID,
    rows: Iterable[Row],
    tally: ImportTally,
) -> None:
    """Validate and insert one batch of rows; bad rows are counted, never abort the rest."""
    accepted: list[tuple[Row, str]] = []
    for row in rows:
        tally.rows += 1
        try:
            number = physical.normalise(row.raw)
        except NumberRejected as exc:
            tally.reject(row, str(exc))
            continue
        if number in tally.seen:
            tally.reject(row, "duplicate_in_file")
            continue
        tally.seen.add(number)
        accepted.append((row, number))
    inserted = await PhysicalCardRepository(session).insert_many(
        merchant_id=merchant_id, program_id=program_id, numbers=[n for _, n in accepted]
    )
    tally.imported += len(inserted)
    for row, number in accepted:
        if number not in inserted:
            tally.reject(row, "already_imported")


async def import_physical_cards(
    session: AsyncSession, *, program_id: uuid.UUID, merchant_id: uuid.UUID, rows: Iterable[Row]
) -> schemas.PhysicalCardImport:
    """The API's import: the whole file in the request's transaction (the route caps its
    size; the CLI commits batch by batch for large files)."""
    program = await ProgramRepository(session).get(program_id)
    if program is None or program.merchant_id != merchant_id:
        raise ProgramNotFound()
    tally = ImportTally()
    batch: list[Row] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH:
            await import_batch(
                session, merchant_id=merchant_id, program_id=program_id, rows=batch, tally=tally
            )
            batch = []
    await import_batch(
        session, merchant_id=merchant_id, program_id=program_id, rows=batch, tally=tally
    )
    return tally.report()


async def bind_physical_card(
    session: AsyncSession,
    *,
    card_id: uuid.UUID,
    user_id: uuid.UUID,
    data: schemas.PhysicalCardBind,
    now: datetime,
) -> schemas.PhysicalCardBinding:
    """Staff hand a pre-printed card to a member: its number now identifies their card."""
    access = await access_card(session, card_id=card_id, user_id=user_id)
    if access.staff_role is None:
        raise Forbidden(
            localised("只有商户员工可以绑定实体卡", "Staff of the merchant bind pre-printed cards")
        )
    try:
        number = physical.normalise(data.number)
    except NumberRejected as exc:
        why = physical.REASONS.say(str(exc))
        raise PhysicalCardInvalid(
            localised(f"不是有效的实体卡号：{why}", f"Not a valid pre-printed card number: {why}"),
            loc=["body", "number"],
        ) from exc
    card = access.ctx.card
    # the card's row lock serialises binds to one card (one number per card); the unique
    # card_id is the database's backstop
    connection = await connection_of(session)
    if await lock_card(connection, card.id) is None:
        raise CardNotFound()
    if (await number_of_cards(connection, [card.id])).get(card.id) is not None:
        raise CardHasPhysicalCard()
    repo = PhysicalCardRepository(session)
    bound = await repo.bind(
        merchant_id=card.merchant_id,
        program_id=card.program_id,
        number=number,
        card_id=card.id,
        user_id=user_id,
        now=now,
    )
    if bound is None:
        existing = await repo.get(card.merchant_id, number)
        if existing is None or existing.program_id != card.program_id:
            raise PhysicalCardNotFound()
        raise PhysicalCardBound()
    assert bound.card_id is not None and bound.bound_at is not None
    return schemas.PhysicalCardBinding(
        number=bound.number,
        card_id=bound.card_id,
        program_id=bound.program_id,
        bound_at=bound.bound_at,
    )
