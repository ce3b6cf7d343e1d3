"""The accounts package's domain errors (stable codes, zh-CN/en titles)."""

from __future__ import annotations

from core.errors import Conflict, DomainError, Forbidden, NotFound, Unauthorized
from core.i18n import Words, localised

ROLES = Words(
    {"owner": ("店主", "owner"), "manager": ("店长", "manager"), "clerk": ("店员", "clerk")}
)


def role_needed(minimum_role: str) -> Forbidden:
    """403 for staff whose role is too small, saying which role it takes."""
    role = ROLES.say(minimum_role)
    return Forbidden(localised(f"需要{role}或更高的角色", f"This needs the {role} role or higher"))


class UserExists(Conflict):
    code, title = "user_exists", "A user with this phone or email already exists"
    title_zh = "该手机号或邮箱已注册"


class InvalidCredentials(Unauthorized):
    code, title = "invalid_credentials", "Wrong username or password"
    title_zh = "账号或密码错误"


class RefreshTokenInvalid(Unauthorized):
    code, title = "refresh_token_invalid", "The refresh token is invalid"
    title_zh = "刷新令牌无效"


class RefreshTokenReused(Unauthorized):
    code, title = "refresh_token_reused", "The refresh token was already used"
    title_zh = "刷新令牌已被使用，该登录已被注销"


class MerchantNotFound(NotFound):
    code, title = "merchant_not_found", "Merchant not found"
    title_zh = "商户不存在"


class UserNotFound(NotFound):
    code, title = "user_not_found", "User not found"
    title_zh = "用户不存在"


class StaffExists(Conflict):
    code, title = "staff_exists", "This user is already staff of the merchant"
    title_zh = "该用户已是员工"


class LoginUnavailable(DomainError):
    # Rate limits fail closed for login: without Redis we cannot count guesses
    status, code, title = 503, "service_unavailable", "Sign-in is temporarily unavailable"
    title_zh = "登录服务暂时不可用"


class InvalidToken(Unauthorized):
    code, title = "invalid_token", "The access token is invalid or expired"
    title_zh = "访问令牌无效或已过期"


class StaffInvitationNotFound(NotFound):
    code, title = "staff_invitation_not_found", "Staff invitation not found"
    title_zh = "员工邀请不存在"


class SmsCodeInvalid(DomainError):
    # the same answer for a wrong, expired, used-up or never-sent code, and an unknown phone
    status, code, title = 400, "sms_code_invalid", "The code is wrong or has expired"
    title_zh = "验证码错误或已过期"


class SmsUnavailable(DomainError):
    # limits fail closed: without Redis codes can be neither counted nor checked
    status, code, title = 503, "service_unavailable", "Sign-in by code is temporarily unavailable"
    title_zh = "验证码服务暂时不可用"


class SoleOwner(Conflict):
    code, title = "sole_owner", "You are the only owner of a merchant"
    title_zh = "您是商户的唯一所有者，请先添加其他所有者"


class DeletionUnavailable(DomainError):
    # the deny-list that ends the account's sessions lives in Redis: without it, no deletion
    status, code, title = 503, "service_unavailable", "Account deletion is temporarily unavailable"
    title_zh = "注销服务暂时不可用"
