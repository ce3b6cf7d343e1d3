"""Who may claim a campaign.

`public` and `customers` (listed user ids) are decided here. `tiers` (membership tiers) and
`segment` (customer segments) belong to the memberships and customers packages; they plug in
with `register_audience_resolver(kind, resolver)`. Until a resolver is registered such
campaigns refuse claims (and audience-wide issues) with `audience_not_available` (409).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import InvalidInput
from core.i18n import localised
from core.lean import Db
from coupons.models import Campaign
from coupons.service.errors import AUDIENCE_KIND, AudienceNotAvailable, NotInAudience


class AudienceResolver:
    """What memberships/customers provide for their audience kind."""

    def __init__(
        self,
        *,
        contains: Callable[[Db, uuid.UUID, dict[str, Any], uuid.UUID], Awaitable[bool]],
        members: Callable[[AsyncSession, uuid.UUID, dict[str, Any]], Awaitable[list[uuid.UUID]]]
        | None = None,
    ) -> None:
        # contains(db, merchant_id, audience, user_id): on a claim's transaction, a lean
        # route's connection or a session (core.lean.Db); members(session, merchant_id,
        # audience) for bulk issues
        self.contains = contains
        self.members = members


_resolvers: dict[str, AudienceResolver] = {}


def register_audience_resolver(kind: str, resolver: AudienceResolver) -> None:
    if kind not in ("tiers", "segment"):
        raise ValueError(f"audience kind {kind!r} is decided by coupons itself")
    _resolvers[kind] = resolver


def unregister_audience_resolver(kind: str) -> None:
    _resolvers.pop(kind, None)


def _resolver(kind: str) -> AudienceResolver:
    resolver = _resolvers.get(kind)
    if resolver is None:
        who = AUDIENCE_KIND.say(kind)
        raise AudienceNotAvailable(
            localised(f"暂不支持面向{who}的优惠活动", f"Campaigns for {who} cannot be claimed yet")
        )
    return resolver


async def require_in_audience(db: Db, *, campaign: Campaign, user_id: uuid.UUID) -> None:
    kind = campaign.audience_kind
    if kind == "public":
        return
    if kind == "customers":
        if user_id not in (campaign.audience_user_ids or []):
            raise NotInAudience()
        return
    resolver = _resolver(kind)
    if not await resolver.contains(db, campaign.merchant_id, campaign.audience, user_id):
        raise NotInAudience()


async def audience_members(session: AsyncSession, *, campaign: Campaign) -> list[uuid.UUID]:
    """Everyone a bulk issue without explicit recipients goes to."""
    kind = campaign.audience_kind
    if kind == "customers":
        return list(campaign.audience_user_ids or [])
    if kind == "public":
        raise InvalidInput(
            localised(
                "面向所有人的活动没有成员名单，请指定发放对象",
                "A campaign for everyone has no member list: name the recipients",
            ),
            loc=["body", "user_ids"],
        )
    resolver = _resolver(kind)
    if resolver.members is None:
        who = AUDIENCE_KIND.say(kind)
        raise AudienceNotAvailable(
            localised(f"无法列出{who}的成员", f"The members of {who} cannot be listed")
        )
    return await resolver.members(session, campaign.merchant_id, campaign.audience)
