"""A paper member book comes in: its rows become customers, cards and opening balances.

The rows of a batch are decided and written together (`member_book_batch`); a batch that met
a concurrent write is applied again row by row (`member_book_rows`).

Member book invariants:
- a row lands whole (customer, card, opening entry) or not at all, and a refused row does not
  stop the others. Rows go in batches (`BATCH` rows): every check of the batch is decided from
  a few reads (the merchant's records of the phones, the programme's cards of the numbers and
  holders, their opening entries — all row-locked), then each table takes one set-based
  statement for the accepted rows. Should a write meet a row someone else wrote meanwhile (a
  phone added at the counter, a card number taken), the batch's savepoint is rolled back and
  its rows are applied one by one, each in its own savepoint, by the same rules;
- imports of one merchant queue behind each other (a transaction-scoped advisory lock);
- re-importing the same book changes nothing: customers are matched by phone, cards by number
  (Corner's or the book's) or by holder, and a card's opening balance is posted once — a
  different figure on a later import is refused (`opening_balance_differs`), never added;
- opening balances and points enter the ledger as one `opening_balance` entry (principal and
  points), so a card's totals still equal the sum of its ledger.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice

from sqlalchemy.ext.asyncio import AsyncSession

from core.i18n import localised
from memberships import schemas
from memberships.memberbook import CARD_COLUMNS, MemberRow, Rejected
from memberships.models import Program, Tier
from memberships.repository.members import MemberCardRepository
from memberships.service.errors import ProgramRequired
from memberships.service.member_book_batch import BatchConflict, apply_batch
from memberships.service.member_book_rows import apply_alone

REPORTED_REJECTIONS = 1000  # the report lists the first ones; the total counts them all
BATCH = 1000


@dataclass
class MemberImportTally:
    """Counts of a member-book import across batches (the CLI commits batch by batch); keeps
    the first rejected rows only, so a huge book's report stays small."""

    imported: int = 0
    updated: int = 0
    rejected_total: int = 0
    rejected: list[Rejected] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return self.imported + self.updated + self.rejected_total

    def reject(self, rejected: Rejected) -> None:
        self.rejected_total += 1
        if len(self.rejected) < REPORTED_REJECTIONS:
            self.rejected.append(rejected)

    def report(self, limit: int = REPORTED_REJECTIONS) -> schemas.MemberImportReport:
        return schemas.MemberImportReport(
            imported=self.imported,
            updated=self.updated,
            rejected_total=self.rejected_total,
            rejected=[
                schemas.RejectedMemberRow(row=r.row, reason=r.reason, field=r.field)
                for r in self.rejected[:limit]
            ],
        )


def check_book_columns(columns: frozenset[str], program_id: uuid.UUID | None) -> None:
    if program_id is None and columns & CARD_COLUMNS:
        raise ProgramRequired(
            localised(
                "名单包含卡号、余额或积分列：请指定会员计划",
                "The book has card numbers, balances or points: name the programme they belong to",
            ),
            loc=["query", "program_id"],
        )


async def import_members(
    session: AsyncSession,
    *,
    merchant_id: uuid.UUID,
    program: tuple[Program, Tier] | None,
    rows: Iterable[MemberRow | Rejected],
    tally: MemberImportTally,
    staff_user_id: uuid.UUID | None,
    now: datetime,
    seen_phones: set[str] | None = None,
) -> None:
    """Apply rows batch by batch in the caller's transaction (see the module's invariants)."""
    seen = seen_phones if seen_phones is not None else set()
    await MemberCardRepository(session).lock_book(merchant_id)
    for batch in _batches(rows, BATCH):
        accepted: list[MemberRow] = []
        for row in batch:
            if isinstance(row, Rejected):
                tally.reject(row)
            elif row.phone in seen:
                tally.reject(Rejected(row.row, "duplicate_phone", "phone"))
            else:
                seen.add(row.phone)
                accepted.append(row)
        if not accepted:
            continue
        try:
            async with session.begin_nested():
                outcomes = await apply_batch(
                    session,
                    merchant_id=merchant_id,
                    program=program,
                    rows=accepted,
                    staff_user_id=staff_user_id,
                    now=now,
                )
        except BatchConflict:
            outcomes = [
                await apply_alone(
                    session,
                    merchant_id=merchant_id,
                    program=program,
                    row=row,
                    staff_user_id=staff_user_id,
                    now=now,
                )
                for row in accepted
            ]
        for outcome in outcomes:
            if isinstance(outcome, Rejected):
                tally.reject(outcome)
            elif outcome:
                tally.imported += 1
            else:
                tally.updated += 1


def _batches(
    rows: Iterable[MemberRow | Rejected], size: int
) -> Iterator[list[MemberRow | Rejected]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        yield batch
