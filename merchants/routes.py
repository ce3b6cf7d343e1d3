from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from accounts.permissions import ManagerStaff
from core.database import SessionDep
from merchants import schemas, service

router = APIRouter(prefix="/v1", tags=["shops"])


@router.post(
    "/merchants/{merchant_id}/shops",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.Shop,
)
async def create_shop(
    merchant_id: uuid.UUID, data: schemas.ShopCreate, staff: ManagerStaff, session: SessionDep
) -> schemas.Shop:
    return await service.create_shop(session, merchant_id=staff.merchant_id, data=data)


@router.get("/shops/{shop_id}", response_model=schemas.Shop)
async def get_shop(shop_id: uuid.UUID, session: SessionDep) -> schemas.Shop:
    return await service.get_shop(session, shop_id=shop_id)
