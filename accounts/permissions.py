"""The one place where "who may do what" is decided; routes use these as dependencies.

A user who is not staff of merchant M gets 404 on M's private resources, so that private
resources do not reveal whether they exist. Staff with too small a role get 403.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param

from accounts import revocation, service
from accounts.security import InvalidAccessToken, decode_access_claims
from accounts.service.errors import InvalidToken
from core.database import SessionDep
from core.errors import DomainError, Forbidden, Unauthorized
from core.settings import Settings, get_settings

ROLE_RANK = {"clerk": 1, "manager": 2, "owner": 3}

_bearer = HTTPBearer(auto_error=False, description="JWT access token from /v1/auth/token")


# Dependencies are `async def` although they never await: FastAPI runs a plain `def`
# dependency in the thread pool, a hop that costs more than the work on every request.
async def get_app_settings(request: Request) -> Settings:
    return getattr(request.app.state, "settings", None) or get_settings()


SettingsDep = Annotated[Settings, Depends(get_app_settings)]


@dataclass(frozen=True)
class Principal:
    user_id: uuid.UUID


async def authenticate(
    request: Request, settings: Settings, credentials: HTTPAuthorizationCredentials | None
) -> Principal:
    """Authenticate from the JWT (no database hit on hot paths) and the short deny-list of
    revoked sign-ins in Redis (logout, refresh token reuse, password reset)."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized()
    try:
        claims = decode_access_claims(settings, credentials.credentials)
    except InvalidAccessToken as exc:
        raise InvalidToken() from exc
    if await revocation.is_revoked(request.app.state.redis, claims):
        raise InvalidToken()
    return Principal(claims.user_id)


async def current_principal(
    request: Request,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    return await authenticate(request, settings, credentials)


async def optional_principal(
    request: Request,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal | None:
    if credentials is None:
        return None
    return await authenticate(request, settings, credentials)


async def request_principal(request: Request) -> Principal:
    """`CurrentUser` for a lean route (core.lean), which solves no dependencies: the same
    bearer parsing as HTTPBearer and the same checks (`authenticate`)."""
    authorization = request.headers.get("Authorization")
    scheme, token = get_authorization_scheme_param(authorization)
    credentials = (
        HTTPAuthorizationCredentials(scheme=scheme, credentials=token)
        if authorization and scheme and token and scheme.lower() == "bearer"
        else None
    )
    settings = getattr(request.app.state, "settings", None) or get_settings()
    return await authenticate(request, settings, credentials)


CurrentUser = Annotated[Principal, Depends(current_principal)]
OptionalUser = Annotated[Principal | None, Depends(optional_principal)]


@dataclass(frozen=True)
class StaffContext:
    merchant_id: uuid.UUID
    user_id: uuid.UUID
    role: str

    def at_least(self, role: str) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[role]


async def staff_context(
    session: SessionDep, principal: Principal, merchant_id: uuid.UUID, minimum_role: str
) -> StaffContext:
    """Resolve the caller's role at a merchant; usable from any package's dependencies.

    Not staff at all: 404 (nothing leaks). Staff with too small a role: 403.
    """
    role = await service.staff_role(session, merchant_id=merchant_id, user_id=principal.user_id)
    if role is None:
        raise service.MerchantNotFound()
    context = StaffContext(merchant_id, principal.user_id, role)
    if not context.at_least(minimum_role):
        raise Forbidden(f"This needs the {minimum_role} role or higher")
    return context


def require_staff(minimum_role: str = "clerk") -> object:
    """Dependency for routes under /v1/merchants/{merchant_id}/…"""

    async def dependency(
        merchant_id: uuid.UUID, session: SessionDep, principal: CurrentUser
    ) -> StaffContext:
        return await staff_context(session, principal, merchant_id, minimum_role)

    return Depends(dependency)


AnyStaff = Annotated[StaffContext, require_staff("clerk")]
ManagerStaff = Annotated[StaffContext, require_staff("manager")]
OwnerStaff = Annotated[StaffContext, require_staff("owner")]

__all__ = [
    "AnyStaff",
    "CurrentUser",
    "DomainError",
    "ManagerStaff",
    "OptionalUser",
    "OwnerStaff",
    "Principal",
    "SettingsDep",
    "StaffContext",
    "current_principal",
    "request_principal",
    "staff_context",
]
