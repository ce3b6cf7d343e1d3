"""The memberships package's request and response schemas, one module per concept, re-exported
here (routes and services use `schemas.X`).

- `common`: limits and shapes shared by several concepts (payment instructions);
- `programs`: programs, tiers and their rules;
- `cards`: member cards, PINs, QR tokens;
- `ledger`: ledger entries, counter transactions, adjustments, reversals;
- `topups`: top-ups, payment callbacks, refunds;
- `designs`: card designs;
- `counts`: count products and passes;
- `physical`: pre-printed physical cards;
- `members`: member-book imports, cards granted by staff, member lookup by phone.
"""

from __future__ import annotations

from core.pagination import Page as Page  # re-exported for routes and services
from memberships.schemas.cards import (
    Card,
    CardTier,
    CounterPinReset,
    PinCodeSent,
    PinSet,
    Progress,
    QrToken,
)
from memberships.schemas.common import MAX_POINTS, PaymentInstructions
from memberships.schemas.counts import (
    CounterCountPassCreate,
    CountPass,
    CountPassCreate,
    CountProduct,
    CountProductCreate,
    CountProductUpdate,
)
from memberships.schemas.designs import Design, DesignUpdate
from memberships.schemas.ledger import (
    AdjustmentCreate,
    CounterTransaction,
    CounterTransactionCreate,
    LedgerEntry,
    ReversalCreate,
)
from memberships.schemas.members import (
    GrantCard,
    MemberCard,
    MemberImportReport,
    MemberLookup,
    MemberLookupRequest,
    RejectedMemberRow,
)
from memberships.schemas.page import ShopProgram
from memberships.schemas.physical import (
    PhysicalCardBind,
    PhysicalCardBinding,
    PhysicalCardImport,
    RejectedRow,
)
from memberships.schemas.programs import (
    EarnRule,
    Program,
    ProgramCreate,
    ProgramRuleVersion,
    ProgramUpdate,
    RedeemRule,
    Tier,
    TierChange,
    TierCreate,
    TierRef,
    TopupBonusRule,
    UpgradeRule,
)
from memberships.schemas.topups import (
    CounterTopupCreate,
    PaymentCallback,
    Refund,
    Topup,
    TopupCreate,
)

__all__ = [
    "RejectedMemberRow",
    "MemberLookupRequest",
    "MemberLookup",
    "MemberImportReport",
    "MemberCard",
    "GrantCard",
    "AdjustmentCreate",
    "Card",
    "CardTier",
    "CountPass",
    "CounterCountPassCreate",
    "CounterTopupCreate",
    "CountPassCreate",
    "CountProduct",
    "CountProductCreate",
    "CountProductUpdate",
    "CounterTransaction",
    "CounterTransactionCreate",
    "Design",
    "DesignUpdate",
    "EarnRule",
    "LedgerEntry",
    "MAX_POINTS",
    "Page",
    "PaymentCallback",
    "PaymentInstructions",
    "PhysicalCardBind",
    "PhysicalCardBinding",
    "PhysicalCardImport",
    "CounterPinReset",
    "PinCodeSent",
    "PinSet",
    "Program",
    "ShopProgram",
    "ProgramCreate",
    "ProgramRuleVersion",
    "ProgramUpdate",
    "Progress",
    "QrToken",
    "RedeemRule",
    "Refund",
    "RejectedRow",
    "ReversalCreate",
    "Tier",
    "TierChange",
    "TierCreate",
    "TierRef",
    "Topup",
    "TopupBonusRule",
    "TopupCreate",
    "UpgradeRule",
]
