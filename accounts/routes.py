from __future__ import annotations

import uuid
from typing import Annotated

import structlog
from fastapi import APIRouter, BackgroundTasks, Form, Request, Response, status

from accounts import schemas, service
from accounts.permissions import CurrentUser, ManagerStaff
from core.clientip import ClientIp
from core.database import SessionDep
from core.redis import RedisDep
from core.settings import SettingsDep
from core.sms import send_after_answer
from core.timezones import utcnow

router = APIRouter(prefix="/v1", tags=["accounts"])
log = structlog.get_logger("corner.accounts")


@router.post("/auth/register", status_code=status.HTTP_201_CREATED, response_model=schemas.User)
async def register(
    data: schemas.UserCreate,
    session: SessionDep,
    settings: SettingsDep,
    redis: RedisDep,
    ip: ClientIp,
) -> schemas.User:
    await service.take_register_budget(redis, settings, client_ip=ip)
    user = await service.register_user(session, settings=settings, data=data)
    return schemas.User.model_validate(user)


@router.post("/auth/token", response_model=schemas.TokenPair)
async def token(
    form: Annotated[schemas.TokenRequest, Form()],
    ip: ClientIp,
    session: SessionDep,
    settings: SettingsDep,
    redis: RedisDep,
) -> schemas.TokenPair:
    """OAuth2 token endpoint: a password, or an SMS code (the first sign-in of a phone by
    code creates its account)."""
    if form.grant_type == "sms_code":
        assert form.code is not None  # the form's validator requires it
        issued = await service.login_with_code(
            session,
            settings=settings,
            redis=redis,
            username=form.username,
            code=form.code,
            client_ip=ip,
            now=utcnow(),
        )
    else:
        assert form.password is not None
        issued = await service.login(
            session,
            settings=settings,
            redis=redis,
            username=form.username,
            password=form.password,
            client_ip=ip,
            now=utcnow(),
        )
    return schemas.TokenPair(**issued.__dict__)


@router.post("/auth/sms-code", status_code=status.HTTP_202_ACCEPTED, response_class=Response)
async def sms_code(
    data: schemas.SmsCodeRequest,
    ip: ClientIp,
    request: Request,
    background: BackgroundTasks,
    session: SessionDep,
    settings: SettingsDep,
    redis: RedisDep,
) -> Response:
    """Send a 6-digit code (valid 5 minutes). Always 202, whether or not the phone has an
    account; 429 with Retry-After past the limits (one per phone per minute, ten a day, and
    a per-address budget)."""
    message = await service.request_sms_code(
        session,
        settings=settings,
        redis=redis,
        phone=data.phone,
        purpose=data.purpose,
        client_ip=ip,
    )
    if message is not None:
        background.add_task(send_after_answer, request.app.state.sms, message)
    return Response(status_code=status.HTTP_202_ACCEPTED)


@router.post("/auth/password-reset", status_code=status.HTTP_204_NO_CONTENT)
async def password_reset(
    data: schemas.PasswordReset,
    ip: ClientIp,
    session: SessionDep,
    settings: SettingsDep,
    redis: RedisDep,
) -> Response:
    """Set a new password with a `reset` code; every refresh token of the user is revoked."""
    await service.reset_password(
        session,
        settings=settings,
        redis=redis,
        phone=data.phone,
        code=data.code,
        new_password=data.new_password,
        client_ip=ip,
        now=utcnow(),
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/auth/refresh", response_model=schemas.TokenPair)
async def refresh(
    data: schemas.RefreshRequest, session: SessionDep, settings: SettingsDep, redis: RedisDep
) -> schemas.TokenPair:
    outcome = await service.rotate_refresh_token(
        session, settings=settings, redis=redis, raw=data.refresh_token, now=utcnow()
    )
    if outcome.reused:
        await session.commit()  # keep the family revocation although we answer 401
        raise service.RefreshTokenReused()
    assert outcome.tokens is not None
    return schemas.TokenPair(**outcome.tokens.__dict__)


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(
    data: schemas.RefreshRequest, session: SessionDep, settings: SettingsDep, redis: RedisDep
) -> Response:
    """Ends the sign-in: its refresh tokens and its access tokens stop working now."""
    await service.revoke_refresh_token(
        session, settings=settings, redis=redis, raw=data.refresh_token, now=utcnow()
    )
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
    response_model=schemas.StaffInvitation,
)
async def add_staff(
    merchant_id: uuid.UUID, data: schemas.StaffCreate, staff: ManagerStaff, session: SessionDep
) -> schemas.StaffInvitation:
    """Invite a person (by user id or phone) to a staff role; they become staff when they
    accept (`POST /v1/me/staff-invitations/{invitation_id}/accept`). The answer is the same
    whether the id or phone has an account."""
    return await service.invite_staff(
        session,
        merchant_id=staff.merchant_id,
        granter_role=staff.role,
        invited_by=staff.user_id,
        data=data,
        now=utcnow(),
    )


@router.get(
    "/merchants/{merchant_id}/staff/invitations",
    response_model=list[schemas.StaffInvitation],
)
async def list_staff_invitations(
    merchant_id: uuid.UUID, staff: ManagerStaff, session: SessionDep
) -> list[schemas.StaffInvitation]:
    return await service.pending_invitations(session, merchant_id=staff.merchant_id, now=utcnow())


@router.delete("/merchants/{merchant_id}/staff/invitations/{invitation_id}", status_code=204)
async def revoke_staff_invitation(
    merchant_id: uuid.UUID, invitation_id: uuid.UUID, staff: ManagerStaff, session: SessionDep
) -> Response:
    await service.revoke_invitation(
        session, merchant_id=staff.merchant_id, invitation_id=invitation_id, now=utcnow()
    )
    return Response(status_code=204)


@router.get("/me/staff-invitations", response_model=list[schemas.MyStaffInvitation])
async def my_staff_invitations(
    principal: CurrentUser, session: SessionDep
) -> list[schemas.MyStaffInvitation]:
    return await service.my_invitations(session, user_id=principal.user_id, now=utcnow())


@router.post("/me/staff-invitations/{invitation_id}/accept", response_model=schemas.StaffOf)
async def accept_staff_invitation(
    invitation_id: uuid.UUID, principal: CurrentUser, session: SessionDep
) -> schemas.StaffOf:
    return await service.accept_invitation(
        session, user_id=principal.user_id, invitation_id=invitation_id, now=utcnow()
    )


@router.post("/me/staff-invitations/{invitation_id}/decline", status_code=204)
async def decline_staff_invitation(
    invitation_id: uuid.UUID, principal: CurrentUser, session: SessionDep
) -> Response:
    await service.decline_invitation(
        session, user_id=principal.user_id, invitation_id=invitation_id, now=utcnow()
    )
    return Response(status_code=204)


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
