"""Birthday greetings: a merchant's rule issues a coupon and sends a message `days_before`
each customer's birthday, in the merchant's timezone, once a year per customer.

Invariants:
- once per customer and birthday year: the greeting row (unique merchant, customer, year) is
  inserted before anything is issued or sent, in the same transaction; a concurrent or later
  run finds it and does nothing;
- the job greets every customer whose next birthday falls within [today, today + days_before]
  (local dates) and who was not greeted for that year, so a run missed (worker down) is caught
  up before the birthday, and a birthday early in January is greeted in December under the
  coming year;
- a Feb 29 birthday is celebrated on Feb 28 in common years;
- the coupon is issued in a savepoint: a campaign sold out, ended or over its per-user limit
  leaves the greeting (message) without a coupon, never a half-written issue.
"""

from __future__ import annotations

import calendar
import uuid
from datetime import date, datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from accounts import service as accounts_service
from core.errors import DomainError, NotFound
from core.pagination import Page, aware_time_value, decode_cursor_as, encode_cursor, uuid_value
from core.sms import BIRTHDAY, SmsSender, sms_message
from core.timezones import zone
from coupons import service as coupons_service
from customers import schemas as customer_schemas
from customers import service as customers_service
from push import repository, schemas
from push.models import BirthdayRule
from push.repository.birthdays import BirthdayRepository
from push.service.errors import BirthdayCampaignInvalid
from push.service.personal import push_to_devices
from push.service.senders import Outcome, PushSender, ReminderMessage, sms_outcome

log = structlog.get_logger("corner.push")

DEFAULT_DAYS_BEFORE = 3


def celebrated_on(birthday: date, year: int) -> date:
    """The day a birthday is celebrated in `year` (Feb 29 → Feb 28 in common years)."""
    if (birthday.month, birthday.day) == (2, 29) and not calendar.isleap(year):
        return date(year, 2, 28)
    return birthday.replace(year=year)


def window_month_days(today: date, days_before: int) -> list[tuple[int, int]]:
    """The (month, day) birthdays celebrated within [today, today + days_before]."""
    found: list[tuple[int, int]] = []
    for offset in range(days_before + 1):
        day = today + timedelta(days=offset)
        found.append((day.month, day.day))
        if (day.month, day.day) == (2, 28) and not calendar.isleap(day.year):
            found.append((2, 29))
    return found


def next_celebration(birthday: date, today: date, days_before: int) -> date | None:
    """The celebration day of this birthday within the window, if any."""
    for year in (today.year, today.year + 1):
        day = celebrated_on(birthday, year)
        if today <= day <= today + timedelta(days=days_before):
            return day
    return None


def rule_schema(merchant_id: uuid.UUID, rule: BirthdayRule | None) -> schemas.BirthdayRule:
    if rule is None:
        return schemas.BirthdayRule(
            merchant_id=merchant_id,
            enabled=False,
            days_before=DEFAULT_DAYS_BEFORE,
            campaign_id=None,
            channel="push",
            message="",
            updated_at=None,
        )
    return schemas.BirthdayRule(
        merchant_id=rule.merchant_id,
        enabled=rule.enabled,
        days_before=rule.days_before,
        campaign_id=rule.campaign_id,
        channel=rule.channel,  # type: ignore[arg-type]
        message=rule.message,
        updated_at=rule.updated_at,
    )


async def get_rule(session: AsyncSession, *, merchant_id: uuid.UUID) -> schemas.BirthdayRule:
    return rule_schema(merchant_id, await BirthdayRepository(session).rule(merchant_id))


async def put_rule(
    session: AsyncSession,
    *,
    merchant_id: uuid.UUID,
    user_id: uuid.UUID,
    data: schemas.BirthdayRuleUpdate,
    now: datetime,
) -> schemas.BirthdayRule:
    """Set the rule; the campaign must be the merchant's (another merchant's campaign is
    refused exactly like a missing one)."""
    if data.campaign_id is not None:
        try:
            owner = await coupons_service.campaign_merchant(session, campaign_id=data.campaign_id)
        except NotFound as exc:
            raise BirthdayCampaignInvalid() from exc
        if owner != merchant_id:
            raise BirthdayCampaignInvalid()
    rule = await BirthdayRepository(session).put_rule(
        {"merchant_id": merchant_id, "updated_by": user_id, **data.model_dump()}, now
    )
    return rule_schema(merchant_id, rule)


async def list_greetings(
    session: AsyncSession, *, merchant_id: uuid.UUID, cursor: str | None, limit: int
) -> Page[schemas.BirthdayGreeting]:
    """The greetings the job made for the merchant, latest first, with the customer's name."""
    position = decode_cursor_as(cursor, {"at": aware_time_value, "id": uuid_value})
    after = (position["at"], position["id"]) if position else None
    rows = await BirthdayRepository(session).page(merchant_id, after=after, limit=limit + 1)
    page = rows[:limit]
    names = await customers_service.known_customers(
        session, merchant_id=merchant_id, customer_ids=[g.customer_id for g in page]
    )
    items = [
        schemas.BirthdayGreeting(
            id=g.id,
            customer_id=g.customer_id,
            customer_name=names[g.customer_id].name if g.customer_id in names else None,
            year=g.year,
            birthday_on=g.birthday_on,
            greeted_on=g.greeted_on,
            coupon_issued=g.coupon_issued,
            channel=g.channel,  # type: ignore[arg-type]
            delivery=g.delivery,
            created_at=g.created_at,
        )
        for g in page
    ]
    next_cursor = (
        encode_cursor({"at": page[-1].created_at.isoformat(), "id": str(page[-1].id)})
        if len(rows) > limit
        else None
    )
    return Page[schemas.BirthdayGreeting](items=items, next_cursor=next_cursor)


async def _issue_coupon(
    session: AsyncSession, rule: BirthdayRule, user_id: uuid.UUID | None, now: datetime
) -> bool:
    if rule.campaign_id is None or user_id is None:
        return False  # a customer without the app has no wallet to hold a coupon
    try:
        async with session.begin_nested():
            result = await coupons_service.issue(
                session, campaign_id=rule.campaign_id, user_ids=[user_id], now=now
            )
    except DomainError:
        return False  # ended, paused, sold out: the greeting goes out without a coupon
    return result.issued == 1


async def _deliver(
    session: AsyncSession,
    *,
    rule: BirthdayRule,
    customer: customer_schemas.KnownCustomer,
    title: str,
    sender: PushSender,
    jpush: PushSender | None,
    sms: SmsSender,
    now: datetime,
    sign_name: str | None = None,
) -> str:
    text = rule.message.replace("{name}", customer.name or "")
    if not text:
        return "no_message"
    if rule.channel == "sms":
        if not customer.phone:
            return "no_phone"
        answer = await sms.send(
            sms_message(customer.phone, BIRTHDAY, {"body": text}, sign_name=sign_name)
        )
        if not answer.ok:  # the greeting row says `failed`; the provider's reason is here
            log.warning("birthday_sms_failed", merchant=str(rule.merchant_id), error=answer.error)
        return "sent" if sms_outcome(answer).outcome is Outcome.SENT else "failed"
    if customer.user_id is None:
        return "no_device"
    devices = await repository.DeviceRepository(session).devices_of_users([customer.user_id])
    mine = devices.get(customer.user_id, [])
    if not mine:
        return "no_device"
    message = ReminderMessage(
        reference_id=customer.id,
        merchant_id=customer.merchant_id,
        kind="birthday",
        title=title,
        body=text,
        expires_at=now + timedelta(days=rule.days_before + 1),
    )
    outcomes, dead = await push_to_devices(message, mine, sender=sender, jpush=jpush, now=now)
    if dead:
        await repository.DeviceRepository(session).delete_devices_by_id(dead)
    return "sent" if Outcome.SENT in outcomes else "failed"


async def send_birthday_greetings(
    session: AsyncSession,
    *,
    sender: PushSender,
    sms: SmsSender,
    now: datetime,
    jpush: PushSender | None = None,
) -> int:
    """Greet every customer of every enabled rule whose birthday is due (see the module
    docstring); returns how many greetings this run made."""
    repo = BirthdayRepository(session)
    made = 0
    for rule in await repo.enabled_rules():
        merchant = await accounts_service.get_merchant(session, merchant_id=rule.merchant_id)
        today = now.astimezone(zone(merchant.timezone)).date()
        born = await customers_service.customers_born_on(
            session,
            merchant_id=rule.merchant_id,
            month_days=window_month_days(today, rule.days_before),
        )
        for customer in born:
            assert customer.birthday is not None
            day = next_celebration(customer.birthday, today, rule.days_before)
            if day is None:
                continue
            greeting_id = await repo.claim(
                merchant_id=rule.merchant_id,
                customer_id=customer.id,
                year=day.year,
                birthday_on=day,
                greeted_on=today,
                channel=rule.channel,
            )
            if greeting_id is None:
                continue  # greeted for this birthday already (by this or another run)
            issued = await _issue_coupon(session, rule, customer.user_id, now)
            delivery = await _deliver(
                session,
                rule=rule,
                customer=customer,
                title=merchant.name,
                sign_name=merchant.sms_sign_name,
                sender=sender,
                jpush=jpush,
                sms=sms,
                now=now,
            )
            await repo.finish(greeting_id, coupon_issued=issued, delivery=delivery)
            made += 1
    return made
