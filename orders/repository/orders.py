"""Order queries: the order and its items, payment and consume transitions, the lists."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import DateTime, Uuid, bindparam, func, or_, select, true, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from core import payment_records
from core.lean import Connection, Detached, RoleSql, ShopSql, Statement, connection_of
from orders.models import (
    Order,
    OrderItem,
)

# -- the counter's consumption (core.lean): statements built and compiled once, run on the
# transaction's driver connection; the orders they return are detached (never flushed) -----

_ORDER = Detached(Order)
_ITEM = Detached(OrderItem)


@cache
def _counter_statement(staff_role: RoleSql, shop_owned: ShopSql) -> Statement:
    merchant_id = Order.__table__.c.merchant_id
    return Statement(
        select(
            *_ORDER.columns,
            staff_role(merchant_id, bindparam("staff_user_id", type_=Uuid)),
            shop_owned(merchant_id, bindparam("shop_id", type_=Uuid)),
        ).where(Order.__table__.c.code == bindparam("code", type_=Order.code.type))
    )


async def counter_order(
    connection: Connection,
    code: str,
    *,
    staff_user_id: uuid.UUID,
    shop_id: uuid.UUID,
    staff_role: RoleSql,
    shop_owned: ShopSql,
) -> tuple[Order, str | None, bool] | None:
    """The order with this code, the caller's role at its merchant and whether the counter's
    shop is that merchant's, in one statement (`staff_role` and `shop_owned` build those SQL
    expressions, from the accounts and merchants services)."""
    row = await _counter_statement(staff_role, shop_owned).one(
        connection, {"code": code, "staff_user_id": staff_user_id, "shop_id": shop_id}
    )
    if row is None:
        return None
    end = len(_ORDER.keys)
    return _ORDER.build(row[:end]), row[end], bool(row[end + 1])


@cache
def _consume_statement() -> Statement:
    c = Order.__table__.c
    return Statement(
        update(Order.__table__)  # type: ignore[arg-type]
        .where(
            c.id == bindparam("p_order_id", type_=Uuid),
            c.status == "paid",
            # as `transition(usable_at=now)`: not once its validity has ended
            or_(
                c.usable_until.is_(None),
                c.usable_until > bindparam("p_now", type_=c.consumed_at.type),
            ),
        )
        .values(
            status="consumed",
            updated_at=func.now(),
            consumed_at=bindparam("p_now", type_=c.consumed_at.type),
            consumed_shop_id=bindparam("p_shop_id", type_=Uuid),
            consumed_by=bindparam("p_staff_user_id", type_=Uuid),
        )
        .returning(*_ORDER.columns)
    )


async def consume_paid(
    connection: Connection,
    order_id: uuid.UUID,
    *,
    shop_id: uuid.UUID,
    staff_user_id: uuid.UUID,
    now: datetime,
) -> Order | None:
    """`OrderRepository.transition(paid → consumed, usable_at=now)` as one prepared
    statement: the consumed order (detached), or None when it was no longer paid (or its
    validity had ended)."""
    params = {"p_order_id": order_id, "p_now": now, "p_shop_id": shop_id,
              "p_staff_user_id": staff_user_id}  # fmt: skip
    row = await _consume_statement().one(connection, params)
    return _ORDER.build(row) if row is not None else None


@cache
def _items_statement() -> Statement:
    c = OrderItem.__table__.c
    return Statement(
        select(*_ITEM.columns)
        .where(c.order_id == bindparam("order_id", type_=Uuid))
        .order_by(c.position)
    )


async def order_items(connection: Connection, order_id: uuid.UUID) -> list[OrderItem]:
    """`OrderRepository.items` of one order, as detached objects."""
    rows = await _items_statement().all(connection, {"order_id": order_id})
    return [_ITEM.build(row) for row in rows]


@dataclass
class PaidOrder:
    """What follows a payment needs of the order (`after_payment`), as the paying UPDATE
    returns it."""

    id: uuid.UUID
    merchant_id: uuid.UUID
    shop_id: uuid.UUID
    user_id: uuid.UUID
    coupon_id: uuid.UUID | None
    subtotal: int
    coupon_discount: int
    currency: str
    redemption_id: uuid.UUID | None = None


@cache
def _pay_statement() -> Statement:
    # the provider callback's hot path (compiled once, run on the session's connection)
    t = Order.__table__.c
    return Statement(
        update(Order.__table__)  # type: ignore[arg-type]
        .where(
            t.provider_reference == bindparam("p_reference"),
            t.provider == bindparam("p_provider"),
            t.status == "pending_payment",
        )
        .values(
            status="paid",
            paid_at=bindparam("p_now"),
            # as orders.service.moves.paid_values: the validity starts when it is paid
            usable_until=bindparam("p_now", type_=DateTime(timezone=True))
            + func.make_interval(0, 0, 0, t.valid_days),
            updated_at=func.now(),
        )
        .returning(
            t.id,
            t.merchant_id,
            t.shop_id,
            t.user_id,
            t.coupon_id,
            t.subtotal,
            t.coupon_discount,
            t.currency,
        )  # fmt: skip
    )


# customers' record of an event fed by a CTE of the caller's statement (RecordFromSql)
RecordFromSql = Callable[[Any], Any]


@cache
def _pay_fast_statement(recorded_from: RecordFromSql) -> Statement:
    """A payment callback's common case for an order, in one statement and so one round trip
    without a transaction of its own: the payment locked (core.payment_records.locked_payment),
    then its order, if it waits for this payment and has no coupon (a coupon's redemption runs
    in the full handler), locked; the payment moved with its `applied` event; the order paid
    (as `_pay_statement`); the customer's `order_paid` record (`recorded_from`, fed by the paid
    order). Lock order payment → order, as the session path. Everything or nothing: each step
    joins the previous one's rows, and under the two locks every step finds its row. Selects
    (the state the payment left, applied events, customer id); no row: nothing written."""
    t = Order.__table__
    o = t.c
    reference = bindparam("p_reference", type_=o.provider_reference.type)
    now = bindparam("p_now", type_=DateTime(timezone=True))
    payment = payment_records.locked_payment()
    # each row by its primary key from the step before (a scalar subquery: an index lookup
    # whatever the statistics say; joined, a stale estimate of the pending orders had the
    # planner scan them all), and evaluated before it, which orders the locks
    owner = (
        select(o.id)
        .where(
            o.id == select(payment.c.subject_id).scalar_subquery(),
            o.provider_reference == reference,
            o.provider == bindparam("p_provider", type_=o.provider.type),
            o.status == "pending_payment",
            o.coupon_id.is_(None),
        )
        .with_for_update(of=t)
        .cte("owner")
    )
    moved, applied = payment_records.moved_payment(payment, owner)
    paid = (
        update(t)  # type: ignore[arg-type]
        .where(o.id == select(moved.c.subject_id).scalar_subquery(), o.status == "pending_payment")
        .values(
            status="paid",
            paid_at=now,
            usable_until=now + func.make_interval(0, 0, 0, o.valid_days),
            updated_at=func.now(),
        )
        .returning(o.id.label("reference_id"), o.merchant_id, o.user_id, o.currency)
        .cte("paid")
    )
    recorded = recorded_from(paid).subquery("recorded")
    logged = select(func.count()).select_from(applied).scalar_subquery()
    return Statement(
        select(moved.c.was, logged.label("logged"), recorded.c.id.label("customer_id")).select_from(
            moved.outerjoin(recorded, true())
        )
    )


async def pay_order_fast(
    connection: Connection, params: dict[str, Any], *, recorded_from: RecordFromSql
) -> str | None:
    """`_pay_fast_statement` with the payment's (`move_params`) and the customer record's
    values: the state the payment left, None when nothing was written."""
    row = await _pay_fast_statement(recorded_from).one(connection, params)
    if row is None:
        return None
    # under the statement's locks the order is paid and recorded whenever the payment moved
    assert row[1] == 1 and row[2] is not None, row
    return str(row[0])


async def pay_order(
    connection: Connection, reference: str, *, provider: str, now: datetime
) -> PaidOrder | None:
    """pending_payment → paid for the order paid through `provider` as `reference`; None when
    it is not (or no longer) waiting for that payment. On any transaction's connection."""
    row = await _pay_statement().one(
        connection, {"p_reference": reference, "p_provider": provider, "p_now": now}
    )
    return PaidOrder(*row) if row is not None else None


class OrderRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def pay(self, reference: str, *, provider: str, now: datetime) -> PaidOrder | None:
        return await pay_order(
            await connection_of(self.session), reference, provider=provider, now=now
        )

    async def add(self, order: Order, items: list[OrderItem]) -> Order:
        self.session.add(order)
        await self.session.flush()
        self.session.add_all(items)
        await self.session.flush()
        return order

    async def get(self, order_id: uuid.UUID) -> Order | None:
        return await self.session.get(Order, order_id, populate_existing=True)

    async def by_code(self, code: str) -> Order | None:
        stmt = select(Order).where(Order.code == code).execution_options(populate_existing=True)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def by_reference(self, reference: str) -> Order | None:
        stmt = (
            select(Order)
            .where(Order.provider_reference == reference)
            .execution_options(populate_existing=True)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def code_taken(self, code: str) -> bool:
        stmt = select(func.count()).where(Order.code == code)
        return bool((await self.session.execute(stmt)).scalar_one())

    async def items(self, order_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[OrderItem]]:
        found: dict[uuid.UUID, list[OrderItem]] = {i: [] for i in order_ids}
        if not order_ids:
            return found
        stmt = (
            select(OrderItem)
            .where(OrderItem.order_id.in_(order_ids))
            .order_by(OrderItem.order_id, OrderItem.position)
        )
        for item in (await self.session.execute(stmt)).scalars():
            found[item.order_id].append(item)
        return found

    async def transition(
        self,
        order_id: uuid.UUID,
        *,
        from_: str,
        to: str,
        values: dict[str, Any],
        usable_at: datetime | None = None,
    ) -> Order | None:
        """The one way an order changes state: only if it is still in `from_` (and, given
        `usable_at`, only if its validity has not ended by then)."""
        conditions = [Order.id == order_id, Order.status == from_]
        if usable_at is not None:
            conditions.append(or_(Order.usable_until.is_(None), Order.usable_until > usable_at))
        stmt = (
            update(Order)
            .where(*conditions)
            .values(status=to, updated_at=func.now(), **values)
            .returning(Order)
            .execution_options(populate_existing=True)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def claim_late_refund(self, order_id: uuid.UUID) -> bool:
        """A payment arrived for an order already closed: claim the right to refund it, once."""
        stmt = (
            update(Order)
            .where(
                Order.id == order_id,
                Order.status.in_(("expired", "cancelled")),
                Order.refund_reference.is_(None),
            )
            .values(refund_reference="pending")
            .returning(Order.id)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none() is not None

    async def set_values(self, order_id: uuid.UUID, values: dict[str, Any]) -> None:
        # the caller sets the same values on its object: nothing in the session to expire
        await self.session.execute(
            update(Order)
            .where(Order.id == order_id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )

    async def of_user(
        self, user_id: uuid.UUID, *, after: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> list[Order]:
        stmt = select(Order).where(Order.user_id == user_id)
        if after is not None:
            stmt = stmt.where(tuple_(Order.created_at, Order.id) < tuple_(*after))
        stmt = stmt.order_by(Order.created_at.desc(), Order.id.desc()).limit(limit + 1)
        return list((await self.session.execute(stmt)).scalars())

    async def due_for_expiry(self, now: datetime, limit: int) -> list[uuid.UUID]:
        """Unpaid orders past their deadline; rows another worker holds are skipped."""
        stmt = (
            select(Order.id)
            .where(Order.status == "pending_payment", Order.expires_at <= now)
            .order_by(Order.expires_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def due_for_expiry_refund(self, now: datetime, limit: int) -> list[uuid.UUID]:
        """Paid orders sold `anytime` whose validity has ended; held rows are skipped."""
        stmt = (
            select(Order.id)
            .where(
                Order.status == "paid",
                Order.refund_policy == "anytime",
                Order.usable_until <= now,
            )
            .order_by(Order.usable_until)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def consumed_by_user_at_shop(
        self, order_id: uuid.UUID, *, user_id: uuid.UUID, shop_id: uuid.UUID
    ) -> bool:
        stmt = select(func.count()).where(
            Order.id == order_id,
            Order.user_id == user_id,
            Order.status == "consumed",
            Order.consumed_shop_id == shop_id,
        )
        return bool((await self.session.execute(stmt)).scalar_one())
