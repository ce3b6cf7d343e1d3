"""Account rules, split by concept; other packages import from here.

- `errors`: the domain errors;
- `users`: registration, lookups, the caller's own description;
- `signin`: sign-in with rate limits, refresh-token rotation (reuse revokes the family), sign-out;
- `sms_codes` / `sms_signin`: one-time SMS codes in Redis; sign-in and password reset by code;
- `merchants`: merchants and staff roles.
"""

from accounts.service.errors import (
    InvalidCredentials,
    InvalidToken,
    LoginUnavailable,
    MerchantNotFound,
    RefreshTokenInvalid,
    RefreshTokenReused,
    SmsCodeInvalid,
    SmsUnavailable,
    StaffExists,
    UserExists,
    UserNotFound,
)
from accounts.service.merchants import (
    add_staff,
    create_merchant,
    find_user_by_login,
    get_merchant,
    list_staff,
    may_grant,
    merchant_timezone,
    merchants_of,
    remove_staff,
    staff_role,
    staff_role_expression,
    update_merchant,
)
from accounts.service.signin import (
    IssuedTokens,
    RefreshOutcome,
    login,
    revoke_refresh_token,
    rotate_refresh_token,
)
from accounts.service.sms_signin import (
    NO_PASSWORD,
    login_with_code,
    request_sms_code,
    reset_password,
)
from accounts.service.users import (
    UserCreatedHook,
    create_user,
    describe_me,
    existing_user_ids,
    get_user,
    parse_login,
    register_user,
    register_user_created_hook,
)

__all__ = [
    "NO_PASSWORD",
    "SmsCodeInvalid",
    "SmsUnavailable",
    "UserCreatedHook",
    "create_user",
    "login_with_code",
    "register_user_created_hook",
    "request_sms_code",
    "reset_password",
    "InvalidToken",
    "InvalidCredentials",
    "IssuedTokens",
    "LoginUnavailable",
    "MerchantNotFound",
    "RefreshOutcome",
    "RefreshTokenInvalid",
    "RefreshTokenReused",
    "StaffExists",
    "UserExists",
    "UserNotFound",
    "add_staff",
    "create_merchant",
    "describe_me",
    "existing_user_ids",
    "find_user_by_login",
    "get_merchant",
    "get_user",
    "list_staff",
    "login",
    "may_grant",
    "merchant_timezone",
    "merchants_of",
    "parse_login",
    "register_user",
    "remove_staff",
    "revoke_refresh_token",
    "rotate_refresh_token",
    "staff_role",
    "staff_role_expression",
    "update_merchant",
]
