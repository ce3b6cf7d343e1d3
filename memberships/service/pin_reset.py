"""A member sets or resets the card's payment PIN at the counter through an SMS code.

Members who forgot their PIN (or never set one, like members the merchant added from a
paper book) stand at the counter; the clerk asks for a code, the member reads it from their
phone and types it with the new PIN on the tablet. Invariants:
- only staff of the card's merchant can ask (anyone else: the card's 404, as at the counter);
- the code goes to the member's own phone (the account's, else the customer record's), never
  to the clerk, and the answer shows the phone masked;
- the code is bound to the card (one live code per phone and card), 6 digits, valid 5 minutes,
  void after 5 wrong tries, with the sign-in codes' send limits (accounts.sms_codes);
- a right code sets the PIN and lifts a PIN lock: the member proved they hold the phone.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from accounts import service as accounts
from accounts import sms_codes
from accounts.schemas import mask_phone
from accounts.security import hash_secret
from core import sms
from core.settings import Settings
from customers import service as customers
from memberships import schemas
from memberships.repository.cards import CardContext, CardRepository
from memberships.service.cards import access_card, card_schema
from memberships.service.errors import MemberPhoneMissing
from memberships.service.pins import clear_pin_lock


async def _staff_card(
    session: AsyncSession, *, card_id: uuid.UUID, staff_user_id: uuid.UUID
) -> CardContext:
    # the holder or a stranger gets the card's 404: this is the counter's route
    return (await access_card(session, card_id=card_id, user_id=staff_user_id, staff_only=True)).ctx


async def _member_phone(session: AsyncSession, ctx: CardContext) -> str:
    card = ctx.card
    phone: str | None = None
    if card.user_id is not None:
        phone = (await accounts.get_user(session, user_id=card.user_id)).phone
    elif card.customer_id is not None:
        known = await customers.known_customer(
            session, merchant_id=card.merchant_id, customer_id=card.customer_id
        )
        phone = known.phone
    if not phone:
        raise MemberPhoneMissing()
    return phone


def _code_subject(phone: str, card_id: uuid.UUID) -> str:
    # a code asked for one card does not set the PIN of the member's card at another merchant
    return f"{phone}#{card_id}"


async def send_pin_code(
    session: AsyncSession,
    *,
    settings: Settings,
    redis: Redis,
    staff_user_id: uuid.UUID,
    card_id: uuid.UUID,
    client_ip: str,
) -> tuple[schemas.PinCodeSent, sms.SmsMessage]:
    """Store a new code for the card and return the message to send after answering."""
    ctx = await _staff_card(session, card_id=card_id, staff_user_id=staff_user_id)
    phone = await _member_phone(session, ctx)
    await sms_codes.take_send_budget(redis, settings, phone=phone, client_ip=client_ip)
    code = sms_codes.new_code()
    subject = _code_subject(phone, ctx.card.id)
    await sms_codes.store_code(redis, settings, purpose="card_pin", phone=subject, code=code)
    minutes = str(max(1, settings.sms_code_ttl_seconds // 60))
    message = sms.sms_message(
        phone, sms.CARD_PIN_CODE, {"code": code, "minutes": minutes, "program": ctx.program.name}
    )
    sent = schemas.PinCodeSent(
        phone=mask_phone(phone) or "", expires_in=settings.sms_code_ttl_seconds
    )
    return sent, message


async def reset_pin_with_code(
    session: AsyncSession,
    *,
    settings: Settings,
    redis: Redis,
    staff_user_id: uuid.UUID,
    card_id: uuid.UUID,
    data: schemas.CounterPinReset,
    client_ip: str,
    now: datetime,
) -> schemas.Card:
    """The member typed the code and a new PIN: set it and lift a lock."""
    ctx = await _staff_card(session, card_id=card_id, staff_user_id=staff_user_id)
    phone = await _member_phone(session, ctx)
    await sms_codes.consume_code(
        redis,
        settings,
        purposes=("card_pin",),
        phone=_code_subject(phone, ctx.card.id),
        code=data.code,
        client_ip=client_ip,
    )
    pin_hash = await hash_secret(settings, data.pin)
    await CardRepository(session).set_pin_hash(ctx.card.id, pin_hash)
    ctx.card.pin_hash = pin_hash
    await clear_pin_lock(redis, ctx.card)
    return card_schema(ctx.card, ctx)
