"""The day close (日结): what a shop (or the whole merchant) took on one local day.

The day is the merchant's local calendar day [00:00, next 00:00) in its timezone (a DST day
has 23 or 25 hours). Each figure is read from the package that owns it, through its service:
redemptions and reversals (coupons), card ledger entries by kind (memberships: purchases,
points and balance spends, top-up principal and bonus, count uses, refunds, adjustments,
opening balances…), orders consumed and refunded (here, by the same instants the settlement
statement counts). Nothing is stored: the close of a past day is computed again from the
facts, so it always agrees with the ledger, the redemptions and the settlement.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from accounts import service as accounts
from core.i18n import current_language
from core.money import DEFAULT_CURRENCY, Money
from core.printing import text_pdf
from core.timezones import zone
from coupons import service as coupons
from customers.service import csv_cell
from memberships import service as memberships
from orders import schemas
from orders.repository.settlement import order_day_lines
from orders.service.settlement import yuan

# ledger kinds in the order a close lists them, with zh-CN and en labels
KIND_LABELS: dict[str, tuple[str, str]] = {
    "earn": ("会员消费", "Member purchases"),
    "spend_points": ("积分抵扣", "Points spent"),
    "spend_balance": ("储值消费", "Balance spent"),
    "topup": ("充值本金", "Top-up principal"),
    "bonus": ("充值赠送", "Top-up bonus"),
    "count_purchase": ("次卡购买", "Count cards bought"),
    "count_use": ("次卡核销", "Count-card uses"),
    "refund": ("储值退款", "Stored-value refunds"),
    "adjustment": ("人工调整", "Adjustments"),
    "reversal": ("冲正", "Reversals"),
    "expiry": ("积分过期", "Points expired"),
    "opening_balance": ("期初导入", "Opening balances"),
}


def day_bounds(day: date, timezone: str) -> tuple[datetime, datetime]:
    """[start, end) of the local calendar day as UTC instants."""
    tz = zone(timezone)
    start = datetime.combine(day, time(0), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


@dataclass
class _StaffTally:
    redemptions: int = 0
    discount: int = 0
    card_transactions: int = 0
    card_purchases: int = 0
    balance_spent: int = 0
    orders_consumed: int = 0
    orders_consumed_total: int = 0


def _label(kind: str) -> str:
    zh, en = KIND_LABELS.get(kind, (kind, kind))
    return en if current_language.get() == "en" else zh


async def day_close(
    session: AsyncSession,
    *,
    merchant_id: uuid.UUID,
    shop_id: uuid.UUID | None,
    day: date,
) -> schemas.DayClose:
    timezone = await accounts.merchant_timezone(session, merchant_id=merchant_id)
    start, end = day_bounds(day, timezone)
    m, s = merchant_id, shop_id
    redeemed = await coupons.redemption_lines(
        session, merchant_id=m, shop_id=s, start=start, end=end, reversals=False
    )
    reversed_ = await coupons.redemption_lines(
        session, merchant_id=m, shop_id=s, start=start, end=end, reversals=True
    )
    ledger = await memberships.ledger_lines(session, merchant_id=m, shop_id=s, start=start, end=end)
    consumed = await order_day_lines(
        session, merchant_id=m, shop_id=s, start=start, end=end, refunded=False
    )
    refunded = await order_day_lines(
        session, merchant_id=m, shop_id=s, start=start, end=end, refunded=True
    )
    currencies = {x.currency for x in redeemed + reversed_} | {x.currency for x in ledger}
    currencies |= {x.currency for x in consumed + refunded}
    # a merchant sells in one currency; a line in another would be summed wrongly, so the
    # close names the one it reports and leaves the rest out rather than mixing them
    currency = min(currencies) if len(currencies) == 1 else DEFAULT_CURRENCY

    def money(amount: int) -> Money:
        return Money.of(amount, currency)

    staff: dict[uuid.UUID | None, _StaffTally] = defaultdict(_StaffTally)
    for line in redeemed:
        if line.currency == currency:
            staff[line.staff_user_id].redemptions += line.count
            staff[line.staff_user_id].discount += line.discount
    kinds: dict[str, list[memberships.LedgerDayLine]] = defaultdict(list)
    for entry in ledger:
        if entry.currency != currency:
            continue
        kinds[entry.kind].append(entry)
        if entry.staff_user_id is not None:
            tally = staff[entry.staff_user_id]
            tally.card_transactions += entry.count
            if entry.kind == "earn":
                tally.card_purchases += entry.paid_amount
            elif entry.kind == "spend_balance":
                tally.balance_spent += entry.paid_amount
    for order_line in consumed:
        if order_line.currency == currency:
            staff[order_line.staff_user_id].orders_consumed += order_line.count
            staff[order_line.staff_user_id].orders_consumed_total += order_line.total
    ordered = sorted(kinds, key=lambda k: list(KIND_LABELS).index(k) if k in KIND_LABELS else 99)
    card_kinds = []
    for kind in ordered:
        lines = kinds[kind]
        principal = sum(x.principal for x in lines)
        bonus = sum(x.bonus for x in lines)
        card_kinds.append(
            schemas.DayCloseLedgerKind(
                kind=kind,
                label=_label(kind),
                count=sum(x.count for x in lines),
                points=sum(x.points for x in lines),
                balance_delta=principal + bonus,
                principal_delta=principal,
                bonus_delta=bonus,
                amount=money(sum(x.amount for x in lines)),
                uses=sum(x.uses for x in lines),
            )
        )  # fmt: skip
    names = {s.user_id: s.display_name for s in await accounts.list_staff(
        session, merchant_id=merchant_id)}  # fmt: skip
    by_staff = [
        schemas.DayCloseStaff(
            staff_user_id=user_id,
            name=names.get(user_id, "") if user_id else ("线上" if current_language.get() !=
                                                          "en" else "online"),
            redemptions=t.redemptions,
            discount=money(t.discount),
            card_transactions=t.card_transactions,
            card_purchases=money(t.card_purchases),
            balance_spent=money(t.balance_spent),
            orders_consumed=t.orders_consumed,
            orders_consumed_total=money(t.orders_consumed_total),
        )
        for user_id, t in sorted(staff.items(), key=lambda i: (i[0] is None, str(i[0])))
    ]  # fmt: skip
    tz = zone(timezone)

    def total(lines: list[coupons.RedemptionDayLine], field: str) -> int:
        return sum(getattr(x, field) for x in lines if x.currency == currency)

    return schemas.DayClose(
        merchant_id=merchant_id,
        shop_id=shop_id,
        date=day,
        timezone=timezone,
        start=start.astimezone(tz),
        end=end.astimezone(tz),
        currency=currency,
        redemptions=schemas.DayCloseRedemptions(
            redeemed=total(redeemed, "count"),
            discount=money(total(redeemed, "discount")),
            order_amount=money(total(redeemed, "order_amount")),
            reversed=total(reversed_, "count"),
            reversed_discount=money(total(reversed_, "discount")),
        ),
        card_transactions=card_kinds,
        count_uses=-sum(x.uses for x in kinds.get("count_use", [])),
        orders=schemas.DayCloseOrders(
            consumed=sum(x.count for x in consumed if x.currency == currency),
            consumed_total=money(sum(x.total for x in consumed if x.currency == currency)),
            refunded=sum(x.count for x in refunded if x.currency == currency),
            refunded_total=money(sum(x.total for x in refunded if x.currency == currency)),
        ),
        by_staff=by_staff,
    )


def _rows(close: schemas.DayClose) -> list[tuple[str, str, int, int, int, int]]:
    """(section, item, count, amount minor, points, balance delta minor) lines of a close."""
    r = close.redemptions
    o = close.orders
    rows = [
        ("redemptions", "redeemed", r.redeemed, r.discount.amount, 0, 0),
        ("redemptions", "reversed", r.reversed, r.reversed_discount.amount, 0, 0),
        ("orders", "consumed", o.consumed, o.consumed_total.amount, 0, 0),
        ("orders", "refunded", o.refunded, o.refunded_total.amount, 0, 0),
    ]
    rows += [
        ("card", k.kind, k.count, k.amount.amount, k.points, k.balance_delta)
        for k in close.card_transactions
    ]
    return rows


def day_close_csv(close: schemas.DayClose) -> str:
    """The close as CSV: one line per figure, then one per staff member; amounts in minor
    units and in yuan."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["# day_close", close.date.isoformat(), close.timezone,
                     str(close.shop_id or close.merchant_id), close.currency])  # fmt: skip
    writer.writerow(["section", "item", "count", "amount_minor", "amount", "points",
                     "balance_delta_minor", "balance_delta"])  # fmt: skip
    for section, item, count, amount, points, balance in _rows(close):
        writer.writerow([section, item, count, amount, yuan(amount), points, balance,
                         yuan(balance)])  # fmt: skip
    writer.writerow([])
    writer.writerow(["staff_user_id", "name", "redemptions", "discount", "card_transactions",
                     "card_purchases", "balance_spent", "orders_consumed",
                     "orders_consumed_total"])  # fmt: skip
    for s in close.by_staff:
        writer.writerow([s.staff_user_id or "", csv_cell(s.name), s.redemptions,
                         yuan(s.discount.amount), s.card_transactions,
                         yuan(s.card_purchases.amount), yuan(s.balance_spent.amount),
                         s.orders_consumed, yuan(s.orders_consumed_total.amount)])  # fmt: skip
    return out.getvalue()


def day_close_pdf(close: schemas.DayClose, *, title: str) -> bytes:
    """A printable A4 close (zh-CN or en labels, money in yuan)."""
    en = current_language.get() == "en"
    heads = {
        "redemptions": ("优惠券核销", "Coupon redemptions"),
        "orders": ("线上订单", "Online orders"),
        "card": ("会员卡交易", "Card transactions"),
    }
    items = {
        "redeemed": ("核销", "redeemed"), "reversed": ("撤销", "reversed"),
        "consumed": ("已消费", "consumed"), "refunded": ("已退款", "refunded"),
    }  # fmt: skip
    lines: list[str] = []
    section = ""
    for head, item, count, amount, points, balance in _rows(close):
        if head != section:
            section = head
            lines.append("## " + heads[head][en])
        label = _label(item) if head == "card" else items[item][en]
        extra = ""
        if head == "card":
            extra = f"   {'points' if en else '积分'} {points:+d}   "
            extra += f"{'balance' if en else '储值'} {yuan(balance)}"
        lines.append(f"{label:<16} × {count:<6} ¥{yuan(amount):>12}{extra}")
    lines.append("## " + ("By staff" if en else "按员工"))
    for s in close.by_staff:
        lines.append(
            f"{s.name[:12]:<14} {'coupons' if en else '核销'} {s.redemptions}  "
            f"{'card' if en else '会员卡'} {s.card_transactions} ¥{yuan(s.card_purchases.amount)}"
            f"  {'orders' if en else '订单'} {s.orders_consumed}"
            f" ¥{yuan(s.orders_consumed_total.amount)}"
        )
    day = f"{close.date.isoformat()} ({close.timezone})"
    return text_pdf(f"{title} · {day}", lines, footer=f"{close.currency} · Corner")
