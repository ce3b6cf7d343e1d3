"""Every query of the memberships package, one module per concept, re-exported here.

- `programs`: programs, tiers and card designs;
- `cards`: cards, the counter's context and the atomic post of totals and a ledger entry;
- `ledger`: ledger entries, reversals and points expiry;
- `topups`: top-ups;
- `counts`: count cards (次卡);
- `physical`: pre-printed card numbers.
"""

from __future__ import annotations

from memberships.repository.cards import (
    CardContext,
    CardRepository,
    RoleSql,
    ShopSql,
    Totals,
    holders_in_tiers_select,
)
from memberships.repository.counts import CountRepository
from memberships.repository.ledger import LedgerRepository
from memberships.repository.physical import PhysicalCardRepository
from memberships.repository.programs import ProgramRepository
from memberships.repository.topups import TopupRepository

__all__ = [
    "CardContext",
    "CardRepository",
    "CountRepository",
    "LedgerRepository",
    "PhysicalCardRepository",
    "ProgramRepository",
    "RoleSql",
    "ShopSql",
    "TopupRepository",
    "Totals",
    "holders_in_tiers_select",
]
