"""The one place where "who may do what" is decided; routes use these as dependencies.

A user who is not staff of merchant M gets 404 on M's private resources, so that private
resources do not reveal whether they exist. Staff with too small a role get 403.

`staff_of` is the one dependency factory for staff routes: path parameter -> the resource's
merchant -> the required role, a stranger getting the resource's own 404. Each package declares
its typed aliases with it in its own `auth.py` (`CampaignManager`, `ProgramManager`, ...);
the merchant-level ones (`AnyStaff`, `ManagerStaff`, `OwnerStaff`) are declared here, since the
merchant is accounts' own resource.
"""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param

from accounts import revocation, service
from accounts.security import InvalidAccessToken, decode_access_claims
from accounts.service.errors import InvalidToken, role_needed
from core.database import SessionDep
from core.errors import DomainError, Unauthorized
from core.settings import Settings, SettingsDep, get_settings

ROLE_RANK = {"clerk": 1, "manager": 2, "owner": 3}

_bearer = HTTPBearer(auto_error=False, description="JWT access token from /v1/auth/token")


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
    settings = getattr(request.app.state, "settings", None) or get_settings()
    return await authenticate(request, settings, _bearer_credentials(request))


async def optional_request_principal(request: Request) -> Principal | None:
    """`OptionalUser` for a direct route (core.query): None without a bearer token, else the
    same checks as `request_principal` (a bad token is refused, not ignored)."""
    credentials = _bearer_credentials(request)
    if credentials is None:
        return None
    settings = getattr(request.app.state, "settings", None) or get_settings()
    return await authenticate(request, settings, credentials)


def _bearer_credentials(request: Request) -> HTTPAuthorizationCredentials | None:
    """The bearer token as `HTTPBearer(auto_error=False)` reads it (None when absent or of
    another scheme)."""
    authorization = request.headers.get("Authorization")
    scheme, token = get_authorization_scheme_param(authorization)
    if authorization and scheme and token and scheme.lower() == "bearer":
        return HTTPAuthorizationCredentials(scheme=scheme, credentials=token)
    return None


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
        raise role_needed(minimum_role)
    return context


async def staff_or_not_found(
    session: SessionDep,
    principal: Principal,
    merchant_id: uuid.UUID,
    minimum_role: str,
    not_found: type[DomainError],
) -> StaffContext:
    """`staff_context`, a stranger getting `not_found()` (the resource's own 404): the rule of
    `staff_of`, for a resource named in the body rather than in the path."""
    try:
        return await staff_context(session, principal, merchant_id, minimum_role)
    except service.MerchantNotFound as exc:
        raise not_found() from exc


# (session, **{path parameter: resource id}) -> the id of the merchant the resource belongs to;
# raises the resource's own NotFound when there is no such resource
MerchantOf = Callable[..., Awaitable[uuid.UUID]]


def staff_of(
    param: str,
    merchant_of: MerchantOf | None = None,
    not_found: type[DomainError] | None = None,
    *,
    kind: Any = uuid.UUID,
) -> Callable[[str], Any]:
    """The permission dependency factory: resource -> its merchant -> the required role.

    `staff_of("campaign_id", service.campaign_merchant, CampaignNotFound)("manager")` is a
    dependency that reads the `campaign_id` path parameter, finds the merchant with
    `campaign_merchant(session, campaign_id=...)` and resolves the caller's role there. A caller
    who is not staff of that merchant gets `not_found()`, the same answer as for a missing
    resource, so existence does not leak; staff with too small a role get 403. Without
    `merchant_of` the parameter is the merchant's own id (and a stranger gets merchant_not_found).
    `kind` is the path parameter's type (a UUID unless the resource is named otherwise, e.g. a
    payment by its reference).
    """

    def for_role(minimum_role: str) -> Any:
        if minimum_role not in ROLE_RANK:
            raise ValueError(f"unknown role {minimum_role!r}")

        async def dependency(
            session: SessionDep, principal: CurrentUser, **path: Any
        ) -> StaffContext:
            resource_id = path[param]
            merchant_id = (
                resource_id
                if merchant_of is None
                else await merchant_of(session, **{param: resource_id})
            )
            return await staff_or_not_found(
                session, principal, merchant_id, minimum_role, not_found or service.MerchantNotFound
            )

        # FastAPI reads the path parameter from the signature: give it the resource's name
        signature = inspect.signature(dependency)
        path_parameter = inspect.Parameter(
            param, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=kind
        )
        dependency.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=[
                path_parameter,
                *(p for p in signature.parameters.values() if p.kind is not p.VAR_KEYWORD),
            ]
        )
        return Depends(dependency)

    return for_role


# routes under /v1/merchants/{merchant_id}/...
merchant_staff = staff_of("merchant_id")

AnyStaff = Annotated[StaffContext, merchant_staff("clerk")]
ManagerStaff = Annotated[StaffContext, merchant_staff("manager")]
OwnerStaff = Annotated[StaffContext, merchant_staff("owner")]

__all__ = [
    "AnyStaff",
    "CurrentUser",
    "DomainError",
    "ManagerStaff",
    "OptionalUser",
    "optional_request_principal",
    "OwnerStaff",
    "Principal",
    "StaffContext",
    "current_principal",
    "merchant_staff",
    "request_principal",
    "staff_context",
    "staff_of",
    "staff_or_not_found",
]
