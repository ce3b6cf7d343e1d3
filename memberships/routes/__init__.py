"""Routes of the memberships package, one module per concept; this module only assembles them.

- `programs`: programmes, their rule versions and card design;
- `cards`: a member's card (image, QR, PIN, ledger, tiers, adjustments, top-ups, refund);
- `counts`: count cards (次卡) and pre-printed card numbers;
- `members`: members staff bring in (walk-ins, the paper member book, phone lookup);
- `counter`: the counter's card transactions and joining, lean routes on the app's router.
"""

from __future__ import annotations

from fastapi import APIRouter

from memberships.routes.cards import router as _cards_router
from memberships.routes.counter import add_lean_routes
from memberships.routes.counts import router as _counts_router
from memberships.routes.members import router as _members_router
from memberships.routes.programs import router as _programs_router

router = APIRouter(prefix="/v1", tags=["memberships"])
# in this order: the order the routes were registered in when they were one module
router.include_router(_programs_router)
router.include_router(_cards_router)
router.include_router(_counts_router)
router.include_router(_members_router)

__all__ = ["add_lean_routes", "router"]
