"""Reviews: stars and text, verified when tied to the reviewer's own consumption."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Literal

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.ids import new_id
from core.pagination import decode_cursor_as, encode_cursor, uuid_value
from core.signing import pseudonym
from customers import service as customers
from merchants import schemas
from merchants.models import Review
from merchants.repository import ShopRepository
from merchants.repository.reviews import ReviewRepository
from merchants.service.errors import ReviewExists, ReviewNotFound

# (session, reference id, reviewer's user id, shop id) -> whether the reference is the reviewer's
# own consumption at that shop. coupons, memberships and orders sit above merchants, so they
# register these in api/wiring.py instead of being imported here.
ConsumptionVerifier = Callable[[AsyncSession, uuid.UUID, uuid.UUID, uuid.UUID], Awaitable[bool]]
ConsumptionKind = Literal["redemption", "card_transaction", "order"]
_verifiers: dict[ConsumptionKind, ConsumptionVerifier] = {}


def register_consumption_verifier(kind: ConsumptionKind, verifier: ConsumptionVerifier) -> None:
    """Verify review references of `kind` with `verifier` (registering again replaces)."""
    _verifiers[kind] = verifier


async def consumption_is_own(
    session: AsyncSession, *, user_id: uuid.UUID, shop_id: uuid.UUID, data: schemas.ReviewCreate
) -> bool:
    """Whether the referenced redemption, card transaction or order is the reviewer's own, at
    this shop (a post-consumption review). Other references leave the review a general one."""
    references: list[tuple[ConsumptionKind, uuid.UUID | None]] = [
        ("redemption", data.redemption_id),
        ("card_transaction", data.card_transaction_id),
        ("order", data.order_id),
    ]
    for kind, reference in references:
        if reference is None:
            continue
        verifier = _verifiers.get(kind)
        if verifier is None:  # a wiring mistake must not silently unverify reviews
            raise RuntimeError(f"no consumption verifier for {kind} (see api/wiring.py)")
        return await verifier(session, reference, user_id, shop_id)
    return False


def review_schema(review: Review, author: str) -> schemas.Review:
    reply = (
        schemas.MerchantReply(text=review.reply_text, replied_at=review.replied_at)
        if review.reply_text is not None and review.replied_at is not None
        else None
    )
    return schemas.Review(
        id=review.id,
        shop_id=review.shop_id,
        author=author,
        # a pseudonym, never the user id: a user id opens other doors (staff invitations used to
        # answer with the person's phone), and one per merchant keeps reviewers unlinkable
        author_id=pseudonym("review_author", review.merchant_id, review.user_id),
        rating=review.rating,
        text=review.text,
        verified=review.verified,
        redemption_id=review.redemption_id,
        order_id=review.order_id,
        card_transaction_id=review.card_transaction_id,
        reply=reply,
        created_at=review.created_at,
    )


async def create_review(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    merchant_id: uuid.UUID,
    shop_id: uuid.UUID,
    data: schemas.ReviewCreate,
    at: datetime,
) -> schemas.Review:
    verified = await consumption_is_own(session, user_id=user_id, shop_id=shop_id, data=data)
    review = Review(
        id=new_id(),
        merchant_id=merchant_id,
        shop_id=shop_id,
        user_id=user_id,
        rating=data.rating,
        text=data.text.strip(),
        verified=verified,
        # a reference that is not the reviewer's own consumption here is dropped: the review
        # is a general one, and nobody can take the one-review-per-consumption slot of another
        redemption_id=data.redemption_id if verified else None,
        order_id=data.order_id if verified else None,
        card_transaction_id=data.card_transaction_id if verified else None,
    )
    try:
        # a savepoint, so a duplicate is a clean 409 and the request's transaction lives on
        async with session.begin_nested():
            await ReviewRepository(session).add(review)
    except IntegrityError as exc:
        raise ReviewExists() from exc
    await ShopRepository(session).add_rating(shop_id, data.rating)
    await customers.record_activity(
        session, merchant_id=merchant_id, user_id=user_id, kind="review", at=at
    )
    found = await ReviewRepository(session).get_with_author(review.id)
    assert found is not None
    return review_schema(*found)


def rating_summary(
    counts: list[tuple[bool, int, int]], verified: bool | None
) -> schemas.RatingSummary:
    by_star = {str(star): 0 for star in range(1, 6)}
    for kind, stars, n in counts:
        if verified is None or kind is verified:
            by_star[str(stars)] += n
    total = sum(by_star.values())
    weighted = sum(int(star) * n for star, n in by_star.items())
    average = round(weighted / total, 2) if total else None
    return schemas.RatingSummary(count=total, average=average, by_star=by_star)


def public_review(review: schemas.Review) -> schemas.Review:
    # the evidence behind `verified` (redemption, order, card transaction ids) is the reviewer's
    # private history: the public list says only that it was verified
    return review.model_copy(
        update={"redemption_id": None, "order_id": None, "card_transaction_id": None}
    )


async def list_reviews(
    session: AsyncSession,
    *,
    shop_id: uuid.UUID,
    verified: bool | None,
    limit: int,
    cursor: str | None,
) -> schemas.ReviewPage:
    values = decode_cursor_as(cursor, {"id": uuid_value})
    before = values["id"] if values else None
    repo = ReviewRepository(session)
    rows = await repo.page(shop_id, verified, before, limit + 1)
    counts = await repo.counts(shop_id)
    next_cursor = encode_cursor({"id": str(rows[limit - 1][0].id)}) if len(rows) > limit else None
    return schemas.ReviewPage(
        items=[public_review(review_schema(r, name)) for r, name in rows[:limit]],
        next_cursor=next_cursor,
        summary=schemas.ReviewSummary(
            all=rating_summary(counts, None),
            verified=rating_summary(counts, True),
            general=rating_summary(counts, False),
        ),
    )


async def merchant_of_review(session: AsyncSession, *, review_id: uuid.UUID) -> uuid.UUID:
    merchant_id = await ReviewRepository(session).merchant_of(review_id)
    if merchant_id is None:
        raise ReviewNotFound()
    return merchant_id


async def reply_to_review(
    session: AsyncSession,
    *,
    merchant_id: uuid.UUID,
    review_id: uuid.UUID,
    staff_user_id: uuid.UUID,
    text: str,
    at: datetime,
) -> schemas.Review:
    repo = ReviewRepository(session)
    if not await repo.set_reply(review_id, merchant_id, text.strip(), staff_user_id, at):
        raise ReviewNotFound()
    found = await repo.get_with_author(review_id)
    assert found is not None
    return review_schema(*found)
