"""Queries for reviews and their summaries."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.models import User
from merchants.models import Review


class ReviewRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, review: Review) -> Review:
        self.session.add(review)
        await self.session.flush()
        return review

    async def get_with_author(self, review_id: uuid.UUID) -> tuple[Review, str] | None:
        stmt = (
            select(Review, User.display_name)
            .join(User, User.id == Review.user_id)
            .where(Review.id == review_id)
            .execution_options(populate_existing=True)
        )
        row = (await self.session.execute(stmt)).one_or_none()
        return (row[0], row[1]) if row else None

    async def merchant_of(self, review_id: uuid.UUID) -> uuid.UUID | None:
        stmt = select(Review.merchant_id).where(Review.id == review_id)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def page(
        self,
        shop_id: uuid.UUID,
        verified: bool | None,
        before: uuid.UUID | None,
        limit: int,
    ) -> list[tuple[Review, str]]:
        """Newest first (ids are time-ordered UUIDv7)."""
        stmt = (
            select(Review, User.display_name)
            .join(User, User.id == Review.user_id)
            .where(Review.shop_id == shop_id)
        )
        if verified is not None:
            stmt = stmt.where(Review.verified.is_(verified))
        if before is not None:
            stmt = stmt.where(Review.id < before)
        stmt = stmt.order_by(Review.id.desc()).limit(limit)
        return [(r, name) for r, name in (await self.session.execute(stmt)).all()]

    async def counts(self, shop_id: uuid.UUID) -> list[tuple[bool, int, int]]:
        """(verified, stars, count) for every combination present."""
        stmt = (
            select(Review.verified, Review.rating, func.count())
            .where(Review.shop_id == shop_id)
            .group_by(Review.verified, Review.rating)
        )
        return [(bool(v), int(r), int(n)) for v, r, n in (await self.session.execute(stmt)).all()]

    async def set_reply(
        self, review_id: uuid.UUID, merchant_id: uuid.UUID, text: str, by: uuid.UUID, at: datetime
    ) -> bool:
        stmt = (
            update(Review)
            .where(Review.id == review_id, Review.merchant_id == merchant_id)
            .values(reply_text=text, replied_by=by, replied_at=at)
            .returning(Review.id)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none() is not None
