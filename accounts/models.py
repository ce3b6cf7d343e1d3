from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, String, func, text
from sqlalchemy.orm import Mapped, mapped_column

from core.models import Base, IdMixin, TimestampMixin
from core.timezones import DEFAULT_TIMEZONE

ROLES = ("owner", "manager", "clerk")


class User(IdMixin, TimestampMixin, Base):
    __tablename__ = "users"

    phone: Mapped[str | None] = mapped_column(String(20), unique=True)
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(64))
    is_active: Mapped[bool] = mapped_column(default=True, server_default="true")
    # set when the account proved its phone by an SMS code (first SMS sign-in, a sign-in or a
    # password reset by code): only then do merchants' records of that phone join it
    phone_verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (CheckConstraint("phone IS NOT NULL OR email IS NOT NULL", name="has_login"),)


class RefreshToken(IdMixin, Base):
    """One row per issued refresh token; a family is one sign-in and its rotations."""

    __tablename__ = "refresh_tokens"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    family_id: Mapped[uuid.UUID] = mapped_column(index=True)
    token_hash: Mapped[bytes]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_refresh_tokens_user_id", "user_id"),)


class Merchant(IdMixin, TimestampMixin, Base):
    __tablename__ = "merchants"

    name: Mapped[str] = mapped_column(String(120))
    timezone: Mapped[str] = mapped_column(String(64), default=DEFAULT_TIMEZONE)
    contact_phone: Mapped[str | None] = mapped_column(String(20))
    # the signature of the SMS the merchant sends its customers; NULL: the platform's
    sms_sign_name: Mapped[str | None] = mapped_column(String(12))


class StaffMembership(Base):
    __tablename__ = "merchant_staff"

    merchant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("merchants.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint("role IN ('owner', 'manager', 'clerk')", name="role"),
        Index("ix_merchant_staff_user_id", "user_id"),
    )


INVITATION_STATUSES = ("pending", "accepted", "declined", "revoked")


class StaffInvitation(IdMixin, Base):
    """An offer of a staff role that the invitee accepts or declines (`/v1/me/staff-invitations`).

    The invitee is named by what the inviter typed: a user id or a phone number, stored as given
    and never resolved at invitation time, so the inviter's answer is the same whether anyone
    has that id or phone (no enumeration, nothing about the person shown before they accept).
    `invitee_user_id` therefore has no foreign key: an id that names nobody is kept like any
    other and simply never accepted. At most one pending invitation per merchant and invitee.
    """

    __tablename__ = "staff_invitations"

    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    invitee_user_id: Mapped[uuid.UUID | None]
    invitee_phone: Mapped[str | None] = mapped_column(String(20))
    role: Mapped[str] = mapped_column(String(16))
    invited_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("role IN ('owner', 'manager', 'clerk')", name="role"),
        CheckConstraint("status IN ('pending', 'accepted', 'declined', 'revoked')", name="status"),
        CheckConstraint("(invitee_user_id IS NULL) <> (invitee_phone IS NULL)", name="one_invitee"),
        Index(
            "uq_staff_invitations_pending_user",
            "merchant_id",
            "invitee_user_id",
            unique=True,
            postgresql_where=text("status = 'pending' AND invitee_user_id IS NOT NULL"),
        ),
        Index(
            "uq_staff_invitations_pending_phone",
            "merchant_id",
            "invitee_phone",
            unique=True,
            postgresql_where=text("status = 'pending' AND invitee_phone IS NOT NULL"),
        ),
        Index(
            "ix_staff_invitations_invitee_user_id",
            "invitee_user_id",
            postgresql_where=text("status = 'pending'"),
        ),
        Index(
            "ix_staff_invitations_invitee_phone",
            "invitee_phone",
            postgresql_where=text("status = 'pending'"),
        ),
    )
