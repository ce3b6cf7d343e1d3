"""Customers the app never saw: staff add a walk-in regular, or a member book row brings one.

A record made by staff has a phone and no user until an account proves that phone by an SMS
code: if such an account exists already, the record is linked at once; otherwise
`link_customers_to_user` (run by the accounts phone-verified hook, wired in api/wiring.py)
links every merchant's record with that phone when an account proves it. An account that only
typed the phone at a password registration gets nothing (anyone can type a number).

One merchant never has two records with one phone: the partial unique index on (merchant,
phone) for unlinked records decides concurrent inserts, and an app customer's phone is checked
before a walk-in is added.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from accounts import service as accounts
from core.ids import new_id
from customers import schemas
from customers.models import Customer
from customers.repository.directory import CustomerRepository
from customers.repository.walk_in import WalkInRepository
from customers.service.errors import CustomerExists
from customers.service.followups import CustomerNotFound


def known(customer: Customer) -> schemas.KnownCustomer:
    return schemas.KnownCustomer(
        id=customer.id,
        merchant_id=customer.merchant_id,
        user_id=customer.user_id,
        name=customer.name,
        phone=customer.phone,
        birthday=customer.birthday,
    )


async def _insert(
    session: AsyncSession,
    *,
    merchant_id: uuid.UUID,
    phone: str,
    name: str | None,
    birthday: date | None,
    tags: list[str],
    refuses_calls: bool,
    source: str,
    now: datetime,
) -> Customer | None:
    user = await accounts.find_user_by_login(session, username=phone)
    if user is not None and user.phone_verified_at is None:
        user = None  # the account has not proved the phone: the record waits for one that does
    return await WalkInRepository(session).insert(
        {
            "id": new_id(),
            "merchant_id": merchant_id,
            "user_id": user.id if user is not None else None,
            "phone": phone,
            "name": name or (user.display_name if user is not None else None),
            "birthday": birthday,
            "tags": tags,
            "refuses_calls": refuses_calls,
            "source": source,
            "first_seen_at": now,
            "last_activity_at": now,
        }
    )


async def create_walk_in(
    session: AsyncSession, *, merchant_id: uuid.UUID, data: schemas.WalkInCreate, now: datetime
) -> uuid.UUID:
    """A customer staff add at the counter; 409 `customer_exists` (with its id) when the
    merchant already has one with this phone."""
    existing = await WalkInRepository(session).with_phone(merchant_id, data.phone)
    if not existing:
        created = await _insert(
            session,
            merchant_id=merchant_id,
            phone=data.phone,
            name=data.name.strip() if data.name else None,
            birthday=data.birthday,
            tags=data.tags,
            refuses_calls=data.refuses_calls,
            source="walk_in",
            now=now,
        )
        if created is not None:
            return created.id
        existing = await WalkInRepository(session).with_phone(merchant_id, data.phone)
    raise CustomerExists(extra={"customer_id": str(existing[0].id)} if existing else None)


async def upsert_member(
    session: AsyncSession,
    *,
    merchant_id: uuid.UUID,
    phone: str,
    name: str | None,
    birthday: date | None,
    now: datetime,
) -> tuple[schemas.KnownCustomer, bool]:
    """The merchant's customer with this phone, created or brought up to date from a member
    book row: (customer, created). Blank cells leave what is known as it is."""
    repo = WalkInRepository(session)
    owner = await accounts.users_with_phones(session, phones=[phone])
    for _ in range(2):  # a concurrent insert of the same phone: read it the second time
        existing = [  # an app record counts only if its account proved the phone
            c
            for c in await repo.with_phone(merchant_id, phone, lock=True)
            if c.user_id is None or c.user_id == owner.get(phone, (None,))[0]
        ]
        if existing:
            customer = existing[0]
            if name and customer.name != name:
                customer.name = name
            if birthday and customer.birthday != birthday:
                customer.birthday = birthday
            await session.flush()
            return known(customer), False
        created = await _insert(
            session,
            merchant_id=merchant_id,
            phone=phone,
            name=name,
            birthday=birthday,
            tags=[],
            refuses_calls=False,
            source="member_book",
            now=now,
        )
        if created is not None:
            return known(created), True
    raise CustomerExists()


# -- the member book, a batch at a time (memberships.service.member_book) --------------------------


@dataclass(frozen=True)
class NewMember:
    id: uuid.UUID
    phone: str
    name: str | None
    birthday: date | None
    user_id: uuid.UUID | None


async def members_by_phone(
    session: AsyncSession, *, merchant_id: uuid.UUID, phones: list[str]
) -> dict[str, schemas.KnownCustomer]:
    """The merchant's record of each phone, locked until the caller's transaction ends: the
    app customer's when its account proved the phone, else the walk-in's (an app record of an
    account that only typed the phone is not the phone owner's)."""
    proved = await accounts.users_with_phones(session, phones=phones)
    found: dict[str, schemas.KnownCustomer] = {}
    for row in await WalkInRepository(session).with_phones(merchant_id, phones):
        if row.user_id is not None and proved.get(row.phone, (None,))[0] != row.user_id:
            continue
        found.setdefault(
            row.phone,
            schemas.KnownCustomer(
                id=row.id,
                merchant_id=merchant_id,
                user_id=row.user_id,
                name=row.name,
                phone=row.phone,
                birthday=row.birthday,
            ),
        )
    return found


async def phone_accounts(
    session: AsyncSession, *, phones: list[str]
) -> dict[str, tuple[uuid.UUID, str]]:
    """The app accounts a new record with one of these phones is linked to at once (phone →
    (user id, display name))."""
    return await accounts.users_with_phones(session, phones=phones)


async def add_members(
    session: AsyncSession, *, merchant_id: uuid.UUID, members: list[NewMember], now: datetime
) -> bool:
    """Insert the member-book records in one statement; False when any phone (or account) got
    a record meanwhile — the caller then rolls back and takes the rows one by one."""
    rows = [(m.id, m.user_id, m.phone, m.name, m.birthday) for m in members]
    inserted = await WalkInRepository(session).insert_members(merchant_id, rows, now)
    return inserted == len(members)


async def refresh_members(
    session: AsyncSession, *, updates: list[tuple[uuid.UUID, str | None, date | None]]
) -> None:
    """(record id, name, birthday) from the book: blank cells keep what is known."""
    await WalkInRepository(session).refresh_members(updates)


async def customer_for_phone(
    session: AsyncSession,
    *,
    merchant_id: uuid.UUID,
    phone: str,
    name: str | None,
    now: datetime,
) -> schemas.KnownCustomer:
    """The merchant's customer with this phone (the app customer first), or a new walk-in
    customer when the phone is unknown to the merchant (staff booking for someone who phoned).
    A concurrent insert of the same phone: the unique index decides, the loser reads it."""
    repo = WalkInRepository(session)
    for _ in range(2):
        existing = await repo.with_phone(merchant_id, phone)
        if existing:
            return known(existing[0])
        created = await _insert(
            session,
            merchant_id=merchant_id,
            phone=phone,
            name=name.strip() if name else None,
            birthday=None,
            tags=[],
            refuses_calls=False,
            source="walk_in",
            now=now,
        )
        if created is not None:
            return known(created)
    raise CustomerExists()


async def customers_born_on(
    session: AsyncSession, *, merchant_id: uuid.UUID, month_days: list[tuple[int, int]]
) -> list[schemas.KnownCustomer]:
    """The merchant's customers with a birthday on one of these (month, day) pairs."""
    if not month_days:
        return []
    rows = await CustomerRepository(session).born_on(merchant_id, month_days)
    return [known(c) for c in rows]


async def known_customers(
    session: AsyncSession, *, merchant_id: uuid.UUID, customer_ids: list[uuid.UUID]
) -> dict[uuid.UUID, schemas.KnownCustomer]:
    """The merchant's customers of these ids (others are left out), in one query."""
    if not customer_ids:
        return {}
    rows = await CustomerRepository(session).of_ids(merchant_id, customer_ids)
    return {c.id: known(c) for c in rows}


async def customers_with_phone(
    session: AsyncSession, *, merchant_id: uuid.UUID, phone: str
) -> list[schemas.KnownCustomer]:
    return [known(c) for c in await WalkInRepository(session).with_phone(merchant_id, phone)]


async def known_customer(
    session: AsyncSession, *, merchant_id: uuid.UUID, customer_id: uuid.UUID
) -> schemas.KnownCustomer:
    customer = await CustomerRepository(session).get(merchant_id, customer_id)
    if customer is None:
        raise CustomerNotFound()
    return known(customer)


async def holder_customer(
    session: AsyncSession,
    *,
    merchant_id: uuid.UUID,
    user_id: uuid.UUID | None,
    customer_id: uuid.UUID | None,
) -> schemas.KnownCustomer | None:
    """The merchant's record of a card's holder (the record a walk-in card names, else the
    account's record at that merchant), or None when the merchant has none yet."""
    repo = CustomerRepository(session)
    if customer_id is None and user_id is not None:
        customer_id = await repo.id_of_user(merchant_id, user_id)
    if customer_id is None:
        return None
    customer = await repo.get(merchant_id, customer_id)
    return known(customer) if customer is not None else None


async def link_customers_to_user(
    session: AsyncSession, *, user_id: uuid.UUID, phone: str | None
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """An account proved `phone`: the records merchants made with it become this user's
    (except at a merchant where the user has a record already: staff merge those by hand).
    Returns (merchant id, customer id) of each linked record."""
    if not phone:
        return []
    return await WalkInRepository(session).link_phone(user_id, phone)
