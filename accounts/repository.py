"""Every query of the accounts package."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from accounts.models import Merchant, RefreshToken, StaffInvitation, StaffMembership, User
from core.ids import new_id


def role_expression(merchant_id: ColumnElement[Any], user_id: Any) -> ColumnElement[Any]:
    """SQL: the user's staff role at the merchant `merchant_id` (a column of the caller's
    query), NULL when not staff; lets hot paths resolve the role in their own statement."""
    return (
        select(StaffMembership.role)
        .where(StaffMembership.merchant_id == merchant_id, StaffMembership.user_id == user_id)
        .scalar_subquery()
    )


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, user_id: uuid.UUID) -> User | None:
        return await self.session.get(User, user_id)

    async def by_login(self, *, phone: str | None, email: str | None) -> User | None:
        conditions = []
        if phone:
            conditions.append(User.phone == phone)
        if email:
            conditions.append(User.email == email)
        if not conditions:
            return None
        result = await self.session.execute(select(User).where(or_(*conditions)).limit(1))
        return result.scalar_one_or_none()

    async def by_phones(self, phones: list[str]) -> dict[str, tuple[uuid.UUID, str]]:
        """Active users who proved these phones: phone → (id, display name)."""
        # a join with the phones: a long `IN` list of parameters plans badly when prepared
        rows = await self.session.execute(
            text(
                "SELECT u.phone, u.id, u.display_name"
                " FROM unnest(CAST(:phones AS text[])) AS p(phone)"
                " JOIN users u ON u.phone = p.phone"
                " WHERE u.is_active AND u.phone_verified_at IS NOT NULL"
            ),
            {"phones": phones},
        )
        return {str(row[0]): (row[1], row[2]) for row in rows}

    async def insert(
        self,
        *,
        phone: str | None,
        email: str | None,
        password_hash: str,
        display_name: str,
        phone_verified: bool = False,
    ) -> User | None:
        """Insert unless the phone or email is taken (then None): no check-then-insert race."""
        stmt = (
            insert(User)
            .values(
                phone=phone,
                email=email,
                password_hash=password_hash,
                display_name=display_name,
                phone_verified_at=func.now() if phone_verified else None,
            )
            .on_conflict_do_nothing()
            .returning(User)
        )
        result = await self.session.execute(stmt)
        return result.scalar_one_or_none()

    async def mark_phone_verified(self, user_id: uuid.UUID) -> User | None:
        """Set `phone_verified_at` if not yet set: the user when this call set it (the row
        lock makes concurrent proofs of one account set it once), else None."""
        stmt = (
            update(User)
            .where(User.id == user_id, User.phone_verified_at.is_(None), User.phone.is_not(None))
            .values(phone_verified_at=func.now())
            .returning(User)
        )
        result = await self.session.execute(stmt, execution_options={"populate_existing": True})
        return result.scalar_one_or_none()

    async def set_password(self, user_id: uuid.UUID, password_hash: str) -> None:
        await self.session.execute(
            update(User).where(User.id == user_id).values(password_hash=password_hash)
        )

    async def existing_ids(self, user_ids: list[uuid.UUID]) -> set[uuid.UUID]:
        if not user_ids:
            return set()
        stmt = select(User.id).where(User.id.in_(user_ids), User.is_active.is_(True))
        return set((await self.session.execute(stmt)).scalars())


class RefreshTokenRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, token: RefreshToken) -> None:
        self.session.add(token)
        await self.session.flush()

    async def mark_used(
        self, token_id: uuid.UUID, token_hash: bytes, now: datetime
    ) -> RefreshToken | None:
        """Atomically consume a live token; None if it is unknown, used, revoked or expired."""
        stmt = (
            update(RefreshToken)
            .where(
                RefreshToken.id == token_id,
                RefreshToken.token_hash == token_hash,
                RefreshToken.used_at.is_(None),
                RefreshToken.revoked_at.is_(None),
                RefreshToken.expires_at > now,
            )
            .values(used_at=now)
            .returning(RefreshToken)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def get(self, token_id: uuid.UUID, token_hash: bytes) -> RefreshToken | None:
        stmt = select(RefreshToken).where(
            RefreshToken.id == token_id, RefreshToken.token_hash == token_hash
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def revoke_family(self, family_id: uuid.UUID, now: datetime) -> None:
        await self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )

    async def revoke_user(self, user_id: uuid.UUID, now: datetime) -> set[uuid.UUID]:
        """Revoke every live refresh token of the user (every device signs in again); returns
        the sign-in families that were still live (their access tokens are denied too)."""
        result = await self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
            .returning(RefreshToken.family_id)
        )
        return set(result.scalars())


class MerchantRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, merchant_id: uuid.UUID) -> Merchant | None:
        return await self.session.get(Merchant, merchant_id)

    async def add(self, merchant: Merchant) -> Merchant:
        self.session.add(merchant)
        await self.session.flush()
        return merchant

    async def role_of(self, merchant_id: uuid.UUID, user_id: uuid.UUID) -> str | None:
        stmt = select(StaffMembership.role).where(
            StaffMembership.merchant_id == merchant_id, StaffMembership.user_id == user_id
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def merchants_of(self, user_id: uuid.UUID) -> list[tuple[Merchant, str]]:
        stmt = (
            select(Merchant, StaffMembership.role)
            .join(StaffMembership, StaffMembership.merchant_id == Merchant.id)
            .where(StaffMembership.user_id == user_id)
            .order_by(Merchant.name, Merchant.id)
        )
        return [(m, r) for m, r in (await self.session.execute(stmt)).all()]

    async def add_staff(self, merchant_id: uuid.UUID, user_id: uuid.UUID, role: str) -> bool:
        stmt = (
            insert(StaffMembership)
            .values(merchant_id=merchant_id, user_id=user_id, role=role)
            .on_conflict_do_nothing()
            .returning(StaffMembership.user_id)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none() is not None

    async def is_staff(
        self, merchant_id: uuid.UUID, *, user_id: uuid.UUID | None, phone: str | None
    ) -> bool:
        """Whether the person named by id or phone is already staff of this merchant."""
        stmt = select(StaffMembership.user_id).where(StaffMembership.merchant_id == merchant_id)
        if user_id is not None:
            stmt = stmt.where(StaffMembership.user_id == user_id)
        else:
            stmt = stmt.join(User, User.id == StaffMembership.user_id).where(User.phone == phone)
        return (await self.session.execute(stmt.limit(1))).first() is not None

    async def staff(self, merchant_id: uuid.UUID) -> list[tuple[StaffMembership, User]]:
        stmt = (
            select(StaffMembership, User)
            .join(User, User.id == StaffMembership.user_id)
            .where(StaffMembership.merchant_id == merchant_id)
            .order_by(StaffMembership.created_at, StaffMembership.user_id)
        )
        return [(s, u) for s, u in (await self.session.execute(stmt)).all()]

    async def remove_staff(self, merchant_id: uuid.UUID, user_id: uuid.UUID) -> bool:
        staff = await self.session.get(StaffMembership, (merchant_id, user_id))
        if staff is None:
            return False
        await self.session.delete(staff)
        await self.session.flush()
        return True

    async def count_owners(self, merchant_id: uuid.UUID) -> int:
        stmt = select(StaffMembership.user_id).where(
            StaffMembership.merchant_id == merchant_id, StaffMembership.role == "owner"
        )
        return len((await self.session.execute(stmt)).all())


class InvitationRepository:
    """Staff invitations; the invitee is matched by user id or by the phone of their account."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def upsert_pending(
        self,
        *,
        merchant_id: uuid.UUID,
        invitee_user_id: uuid.UUID | None,
        invitee_phone: str | None,
        role: str,
        invited_by: uuid.UUID,
        expires_at: datetime,
    ) -> StaffInvitation:
        """One pending invitation per merchant and invitee: inviting again renews it (role,
        expiry) in one statement, so concurrent invitations of one person never make two."""
        target = "invitee_user_id" if invitee_user_id is not None else "invitee_phone"
        stmt = insert(StaffInvitation).values(
            id=new_id(),
            merchant_id=merchant_id,
            invitee_user_id=invitee_user_id,
            invitee_phone=invitee_phone,
            role=role,
            invited_by=invited_by,
            expires_at=expires_at,
        )
        upsert = stmt.on_conflict_do_update(
            index_elements=["merchant_id", target],
            # literal SQL, not bound values: once psycopg prepares the statement (its 5th run
            # on a connection) a parameter can no longer prove the partial index's predicate
            index_where=text(f"status = 'pending' AND {target} IS NOT NULL"),
            set_={
                "role": stmt.excluded.role,
                "invited_by": stmt.excluded.invited_by,
                "expires_at": stmt.excluded.expires_at,
            },
        ).returning(StaffInvitation)
        result = await self.session.execute(upsert, execution_options={"populate_existing": True})
        return result.scalar_one()

    def _addressed_to(self, user_id: uuid.UUID, phone: str | None) -> ColumnElement[bool]:
        if phone is None:
            return StaffInvitation.invitee_user_id == user_id
        return or_(
            StaffInvitation.invitee_user_id == user_id, StaffInvitation.invitee_phone == phone
        )

    async def pending_for(
        self, *, user_id: uuid.UUID, phone: str | None, now: datetime
    ) -> list[tuple[StaffInvitation, Merchant]]:
        stmt = (
            select(StaffInvitation, Merchant)
            .join(Merchant, Merchant.id == StaffInvitation.merchant_id)
            .where(
                self._addressed_to(user_id, phone),
                StaffInvitation.status == "pending",
                StaffInvitation.expires_at > now,
            )
            .order_by(StaffInvitation.created_at.desc(), StaffInvitation.id)
        )
        return [(i, m) for i, m in (await self.session.execute(stmt)).all()]

    async def answer(
        self,
        *,
        invitation_id: uuid.UUID,
        user_id: uuid.UUID,
        phone: str | None,
        status: str,
        now: datetime,
    ) -> StaffInvitation | None:
        """Move a live pending invitation addressed to this user to `status`, atomically (a
        double tap on "accept" answers once); None when there is none such."""
        stmt = (
            update(StaffInvitation)
            .where(
                StaffInvitation.id == invitation_id,
                self._addressed_to(user_id, phone),
                StaffInvitation.status == "pending",
                StaffInvitation.expires_at > now,
            )
            .values(status=status, answered_at=now)
            .returning(StaffInvitation)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def pending_of_merchant(
        self, merchant_id: uuid.UUID, now: datetime
    ) -> list[StaffInvitation]:
        stmt = (
            select(StaffInvitation)
            .where(
                StaffInvitation.merchant_id == merchant_id,
                StaffInvitation.status == "pending",
                StaffInvitation.expires_at > now,
            )
            .order_by(StaffInvitation.created_at, StaffInvitation.id)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def revoke(self, merchant_id: uuid.UUID, invitation_id: uuid.UUID, now: datetime) -> bool:
        stmt = (
            update(StaffInvitation)
            .where(
                StaffInvitation.id == invitation_id,
                StaffInvitation.merchant_id == merchant_id,
                StaffInvitation.status == "pending",
            )
            .values(status="revoked", answered_at=now)
            .returning(StaffInvitation.id)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none() is not None


async def delete_expired_refresh_tokens(session: AsyncSession, now: datetime) -> int:
    result = await session.execute(delete(RefreshToken).where(RefreshToken.expires_at < now))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


class PersonalDataRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock_owned_merchants(self, user_id: uuid.UUID) -> dict[uuid.UUID, list[Any]]:
        """The merchants the user owns, each with its owners' user ids and its name; the
        owner rows are locked, so of two owners leaving at once the second sees the first
        gone (no merchant is left ownerless by a race)."""
        mine = select(StaffMembership.merchant_id).where(
            StaffMembership.user_id == user_id, StaffMembership.role == "owner"
        )
        stmt = (
            select(StaffMembership.merchant_id, StaffMembership.user_id, Merchant.name)
            .join(Merchant, Merchant.id == StaffMembership.merchant_id)
            .where(StaffMembership.role == "owner", StaffMembership.merchant_id.in_(mine))
            .order_by(StaffMembership.merchant_id, StaffMembership.user_id)
            .with_for_update(of=StaffMembership)
        )
        owners: dict[uuid.UUID, list[Any]] = {}
        for merchant_id, owner_id, name in (await self.session.execute(stmt)).all():
            owners.setdefault(merchant_id, [name]).append(owner_id)
        return owners

    async def erase(
        self,
        user_id: uuid.UUID,
        *,
        phone: str | None,
        email: str,
        display_name: str,
        password_hash: str,
    ) -> None:
        await self.session.execute(
            update(User)
            .where(User.id == user_id)
            .values(
                phone=None,
                email=email,
                display_name=display_name,
                password_hash=password_hash,
                is_active=False,
            )
        )
        await self.session.execute(delete(RefreshToken).where(RefreshToken.user_id == user_id))
        await self.session.execute(
            delete(StaffMembership).where(StaffMembership.user_id == user_id)
        )
        invited = StaffInvitation.invitee_user_id == user_id
        if phone is not None:
            invited = or_(invited, StaffInvitation.invitee_phone == phone)
        await self.session.execute(delete(StaffInvitation).where(invited))
