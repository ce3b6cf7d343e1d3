"""The push package's permission aliases: staff of the merchant that sent a flash offer
(`accounts.permissions.staff_of`); strangers get the same 404 as for a missing offer.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from sqlalchemy.ext.asyncio import AsyncSession

from accounts.permissions import StaffContext, staff_of
from push import service


async def _merchant_of_offer(session: AsyncSession, *, flash_offer_id: uuid.UUID) -> uuid.UUID:
    return await service.offer_merchant(session, offer_id=flash_offer_id)


flash_offer_staff = staff_of("flash_offer_id", _merchant_of_offer, service.FlashOfferNotFound)

FlashOfferStaff = Annotated[StaffContext, flash_offer_staff("clerk")]
