"""Permission dependencies for routes keyed by a shop or a review, not by the merchant.

The merchant is found from the resource; a caller who is not staff of that merchant gets the
same 404 as for a missing resource, so existence does not leak.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends

from accounts.permissions import CurrentUser, StaffContext, staff_context
from accounts.service import MerchantNotFound
from core.database import SessionDep
from merchants import service


def shop_staff(minimum_role: str) -> object:
    async def dependency(
        shop_id: uuid.UUID, session: SessionDep, principal: CurrentUser
    ) -> StaffContext:
        merchant_id = await service.merchant_of_shop(session, shop_id=shop_id)
        try:
            return await staff_context(session, principal, merchant_id, minimum_role)
        except MerchantNotFound as exc:
            raise service.ShopNotFound() from exc

    return Depends(dependency)


def review_staff(minimum_role: str) -> object:
    async def dependency(
        review_id: uuid.UUID, session: SessionDep, principal: CurrentUser
    ) -> StaffContext:
        merchant_id = await service.merchant_of_review(session, review_id=review_id)
        try:
            return await staff_context(session, principal, merchant_id, minimum_role)
        except MerchantNotFound as exc:
            raise service.ReviewNotFound() from exc

    return Depends(dependency)


def offering_staff(minimum_role: str) -> object:
    async def dependency(
        offering_id: uuid.UUID, session: SessionDep, principal: CurrentUser
    ) -> StaffContext:
        merchant_id = await service.merchant_of_offering(session, offering_id=offering_id)
        try:
            return await staff_context(session, principal, merchant_id, minimum_role)
        except MerchantNotFound as exc:
            raise service.OfferingNotFound() from exc

    return Depends(dependency)


def photo_staff(minimum_role: str) -> object:
    async def dependency(
        photo_id: uuid.UUID, session: SessionDep, principal: CurrentUser
    ) -> StaffContext:
        merchant_id = await service.merchant_of_photo(session, photo_id=photo_id)
        try:
            return await staff_context(session, principal, merchant_id, minimum_role)
        except MerchantNotFound as exc:
            raise service.PhotoNotFound() from exc

    return Depends(dependency)


ShopManager = Annotated[StaffContext, shop_staff("manager")]
OfferingManager = Annotated[StaffContext, offering_staff("manager")]
PhotoManager = Annotated[StaffContext, photo_staff("manager")]
ReviewManager = Annotated[StaffContext, review_staff("manager")]
