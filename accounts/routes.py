from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm

from accounts import schemas, service
from accounts.permissions import CurrentUser, ManagerStaff, SettingsDep
from core.database import SessionDep
from core.redis import RedisDep
from core.timezones import utcnow

router = APIRouter(prefix="/v1", tags=["accounts"])


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post("/auth/register", status_code=status.HTTP_201_CREATED, response_model=schemas.User)
async def register(
    data: schemas.UserCreate, session: SessionDep, settings: SettingsDep
) -> schemas.User:
    user = await service.register_user(session, settings=settings, data=data)
    return schemas.User.model_validate(user)


@router.post("/auth/token", response_model=schemas.TokenPair)
async def token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    redis: RedisDep,
) -> schemas.TokenPair:
    issued = await service.login(
        session,
        settings=settings,
        redis=redis,
        username=form.username,
        password=form.password,
        client_ip=client_ip(request),
        now=utcnow(),
    )
    return schemas.TokenPair(**issued.__dict__)


@router.post("/auth/refresh", response_model=schemas.TokenPair)
async def refresh(
    data: schemas.RefreshRequest, session: SessionDep, settings: SettingsDep
) -> schemas.TokenPair:
    outcome = await service.rotate_refresh_token(
        session, settings=settings, raw=data.refresh_token, now=utcnow()
    )
    if outcome.reused:
        await session.commit()  # keep the family revocation although we answer 401
        raise service.RefreshTokenReused()
    assert outcome.tokens is not None
    return schemas.TokenPair(**outcome.tokens.__dict__)


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(data: schemas.RefreshRequest, session: SessionDep) -> Response:
    await service.revoke_refresh_token(session, raw=data.refresh_token, now=utcnow())
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", response_model=schemas.Me)
async def me(principal: CurrentUser, session: SessionDep) -> schemas.Me:
    return await service.describe_me(session, user_id=principal.user_id)


@router.post("/merchants", status_code=status.HTTP_201_CREATED, response_model=schemas.Merchant)
async def create_merchant(
    data: schemas.MerchantCreate, principal: CurrentUser, session: SessionDep
) -> schemas.Merchant:
    merchant = await service.create_merchant(session, owner_id=principal.user_id, data=data)
    return schemas.Merchant.model_validate(merchant)


@router.get("/merchants/{merchant_id}", response_model=schemas.Merchant)
async def get_merchant(merchant_id: uuid.UUID, session: SessionDep) -> schemas.Merchant:
    """A merchant's public profile (shops and campaigns link to it)."""
    merchant = await service.get_merchant(session, merchant_id=merchant_id)
    return schemas.Merchant.model_validate(merchant)


@router.patch("/merchants/{merchant_id}", response_model=schemas.Merchant)
async def update_merchant(
    merchant_id: uuid.UUID, data: schemas.MerchantUpdate, staff: ManagerStaff, session: SessionDep
) -> schemas.Merchant:
    merchant = await service.update_merchant(session, merchant_id=staff.merchant_id, data=data)
    return schemas.Merchant.model_validate(merchant)


@router.post(
    "/merchants/{merchant_id}/staff",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.Staff,
)
async def add_staff(
    merchant_id: uuid.UUID, data: schemas.StaffCreate, staff: ManagerStaff, session: SessionDep
) -> schemas.Staff:
    return await service.add_staff(
        session, merchant_id=staff.merchant_id, granter_role=staff.role, data=data
    )


@router.get("/merchants/{merchant_id}/staff", response_model=list[schemas.Staff])
async def list_staff(
    merchant_id: uuid.UUID, staff: ManagerStaff, session: SessionDep
) -> list[schemas.Staff]:
    return await service.list_staff(session, merchant_id=staff.merchant_id)


@router.delete("/merchants/{merchant_id}/staff/{user_id}", status_code=204)
async def remove_staff(
    merchant_id: uuid.UUID, user_id: uuid.UUID, staff: ManagerStaff, session: SessionDep
) -> Response:
    await service.remove_staff(
        session, merchant_id=staff.merchant_id, granter_role=staff.role, user_id=user_id
    )
    return Response(status_code=204)
