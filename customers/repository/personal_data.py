"""The customers package's rows about a person: the customer record each merchant keeps,
with its follow-ups and complaints. Erasure anonymises the records (name, phone, notes,
tags, birthday-like free text) and keeps the counters, which are the merchant's statistics."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from customers.models import Complaint, Customer, FollowUp


def export_specs(user_id: uuid.UUID) -> dict[str, Any]:
    mine = select(Customer.id).where(Customer.user_id == user_id)
    return {
        "customer_records": (Customer, Customer.user_id == user_id, ()),
        "follow_ups": (FollowUp, FollowUp.customer_id.in_(mine), ()),
        "complaints": (Complaint, Complaint.customer_id.in_(mine), ()),
    }


async def erase(session: AsyncSession, user_id: uuid.UUID) -> None:
    await session.execute(
        update(Customer)
        .where(Customer.user_id == user_id)
        # the birthday too: no greeting (and no birthday coupon) reaches an erased person
        .values(name=None, phone=None, notes=None, tags=[], birthday=None)
    )
