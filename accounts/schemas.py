from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Literal

import phonenumbers
from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator, model_validator

from core.timezones import DEFAULT_TIMEZONE, is_valid_timezone

Role = Literal["owner", "manager", "clerk"]


def normalise_phone(raw: str) -> str:
    """E.164, or a Chinese mobile/landline number written the local way (13812345678)."""
    text = raw.strip()
    try:
        parsed = phonenumbers.parse(text, None if text.startswith("+") else "CN")
    except phonenumbers.NumberParseException as exc:
        raise ValueError("not a phone number") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError("not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def check_timezone(value: str) -> str:
    if not is_valid_timezone(value):
        raise ValueError("not an IANA time zone (e.g. Asia/Shanghai)")
    return value


# Aliyun's rule for an SMS signature: 2-12 characters, Chinese, English letters or digits, no
# symbols (spaces and the 【】 the carrier adds included)
SMS_SIGN_NAME = re.compile(r"[\u4e00-\u9fffA-Za-z0-9]{2,12}")


def check_sms_sign_name(value: str) -> str:
    if not SMS_SIGN_NAME.fullmatch(value):
        raise ValueError(
            "an SMS signature is 2-12 Chinese characters, letters or digits, without symbols,"
            " spaces or 【】 (短信签名为2-12个中文、英文字母或数字，不含符号、空格和【】)"
        )
    return value


def mask_phone(phone: str | None) -> str | None:
    """+8613812345678 -> 138****5678 (the form Chinese apps show)."""
    if not phone:
        return phone
    local = phone[3:] if phone.startswith("+86") else phone.lstrip("+")
    if len(local) < 8:
        return "*" * len(local)
    return f"{local[:3]}****{local[-4:]}"


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phone: str | None = Field(default=None, examples=["13812345678"])
    email: EmailStr | None = None
    password: str = Field(min_length=8, max_length=128)
    display_name: str = Field(min_length=1, max_length=64)

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        return normalise_phone(value) if value is not None else None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        return value.lower() if value is not None else None

    @field_validator("display_name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()

    @model_validator(mode="after")
    def _has_login(self) -> UserCreate:
        if self.phone is None and self.email is None:
            raise ValueError("either phone or email is required")
        return self


class User(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    phone: str | None
    email: str | None
    display_name: str
    created_at: datetime


class StaffOf(BaseModel):
    merchant_id: uuid.UUID
    name: str
    role: Role


class Me(User):
    merchants: list[StaffOf]


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class TokenRequest(BaseModel):
    """The OAuth2 token form: `grant_type=password` (default) with `username` (phone or email)
    and `password`, or `grant_type=sms_code` with `username` = phone and `code`."""

    grant_type: Literal["password", "sms_code"] = "password"
    username: str = Field(min_length=1, max_length=254)
    password: str | None = Field(default=None, max_length=128)
    code: str | None = Field(default=None, max_length=16, description="sms_code grant: the code")
    scope: str = Field(default="", max_length=256)
    client_id: str | None = Field(default=None, max_length=128)
    client_secret: str | None = Field(default=None, max_length=256)

    @model_validator(mode="after")
    def _grant_fields(self) -> TokenRequest:
        if self.grant_type == "password" and self.password is None:
            raise ValueError("password is required with grant_type=password")
        if self.grant_type == "sms_code" and self.code is None:
            raise ValueError("code is required with grant_type=sms_code")
        return self


SmsCodePurpose = Literal["login", "reset", "delete"]


class SmsCodeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phone: str = Field(max_length=32, examples=["13812345678"])
    purpose: SmsCodePurpose = "login"

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        return normalise_phone(value)


class PasswordReset(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phone: str = Field(max_length=32)
    code: str = Field(max_length=16)
    new_password: str = Field(min_length=8, max_length=128)

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        return normalise_phone(value)


class RefreshRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    refresh_token: str = Field(min_length=1, max_length=512)


class MerchantCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=120)
    timezone: str = DEFAULT_TIMEZONE
    contact_phone: str | None = None

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        return check_timezone(value)

    @field_validator("contact_phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        return normalise_phone(value) if value is not None else None


class MerchantUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=120)
    timezone: str | None = None
    contact_phone: str | None = None
    sms_sign_name: str | None = Field(
        default=None,
        description="the signature (短信签名) of the SMS this merchant sends its customers (flash"
        " offers, birthday greetings), as registered with the SMS provider; null: the platform's",
        examples=["街角咖啡"],
    )

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str | None) -> str | None:
        return check_timezone(value) if value is not None else None

    @field_validator("contact_phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        return normalise_phone(value) if value is not None else None

    @field_validator("sms_sign_name")
    @classmethod
    def _sign(cls, value: str | None) -> str | None:
        return check_sms_sign_name(value) if value is not None else None


class Merchant(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    timezone: str
    contact_phone: str | None
    sms_sign_name: str | None
    created_at: datetime
    updated_at: datetime


class StaffCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: uuid.UUID | None = None
    phone: str | None = None
    role: Role

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        return normalise_phone(value) if value is not None else None

    @model_validator(mode="after")
    def _one_identity(self) -> StaffCreate:
        if (self.user_id is None) == (self.phone is None):
            raise ValueError("give exactly one of user_id or phone")
        return self


InvitationStatus = Literal["pending", "accepted", "declined", "revoked"]


class StaffInvitation(BaseModel):
    """What the inviter sees: the invitation, never anything about the invited person (their
    name or whether the id or phone has an account) until they accept."""

    id: uuid.UUID
    merchant_id: uuid.UUID
    role: Role
    status: InvitationStatus
    created_at: datetime
    expires_at: datetime


class MyStaffInvitation(BaseModel):
    """What the invitee sees: who invites them and to which role."""

    id: uuid.UUID
    merchant_id: uuid.UUID
    merchant_name: str
    role: Role
    created_at: datetime
    expires_at: datetime


class Staff(BaseModel):
    user_id: uuid.UUID
    display_name: str
    phone: str | None
    role: Role
    created_at: datetime
