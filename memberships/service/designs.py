"""Card designs: a manager sets the template; previews and member card pictures render it."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from accounts import service as accounts
from core import imaging
from customers import service as customers
from memberships import cardnumbers, render, schemas
from memberships.models import Card, Design
from memberships.repository.programs import ProgramRepository
from memberships.service.cards import access_card
from memberships.service.errors import ImageInvalid, ProgramNotFound

DEFAULT_ART = render.CardArt(
    background_color="#1F2937",
    text_color="#FFFFFF",
    text_lines=[],
    background_image=None,
    logo=None,
)
SAMPLE_NAME = "会员姓名"
SAMPLE_NUMBER = "8000000000000000"


def design_schema(design: Design) -> schemas.Design:
    return schemas.Design(
        program_id=design.program_id,
        background_color=design.background_color,
        text_color=design.text_color,
        text_lines=list(design.text_lines),
        has_background_image=design.background_image is not None,
        has_logo=design.logo is not None,
        updated_at=design.updated_at,
    )


def _art(design: Design | None) -> render.CardArt:
    if design is None:
        return DEFAULT_ART
    return render.CardArt(
        background_color=design.background_color,
        text_color=design.text_color,
        text_lines=list(design.text_lines),
        background_image=design.background_image,
        logo=design.logo,
    )


async def _prepare(data: str, field: str, prepare: Any) -> bytes:
    try:
        raw = render.decode_upload(data)
        # decoding and resampling take tens of milliseconds: off the event loop
        return await imaging.decode_in_pool(prepare, raw)
    except render.ImageInvalid as exc:
        extra = {"limit": exc.limit} if exc.limit is not None else None
        # args[0]: the localised text (str() would drop which language it is in)
        raise ImageInvalid(exc.args[0], loc=["body", field], extra=extra) from exc


async def set_design(
    session: AsyncSession,
    *,
    program_id: uuid.UUID,
    merchant_id: uuid.UUID,
    data: schemas.DesignUpdate,
) -> schemas.Design:
    values: dict[str, Any] = {
        "program_id": program_id,
        "merchant_id": merchant_id,
        "background_color": data.background_color,
        "text_color": data.text_color,
        "text_lines": data.text_lines,
        "background_image": None,
        "logo": None,
    }
    if data.background_image:
        values["background_image"] = await _prepare(
            data.background_image, "background_image", render.prepare_background
        )
    if data.logo:
        values["logo"] = await _prepare(data.logo, "logo", render.prepare_logo)
    design = await ProgramRepository(session).upsert_design(values)
    return design_schema(design)


async def get_design(session: AsyncSession, *, program_id: uuid.UUID) -> schemas.Design:
    repo = ProgramRepository(session)
    program = await repo.get(program_id)
    if program is None:
        raise ProgramNotFound()
    design = await repo.get_design(program_id)
    if design is None:
        return schemas.Design(
            program_id=program_id,
            background_color=DEFAULT_ART.background_color,
            text_color=DEFAULT_ART.text_color,
            text_lines=[],
            has_background_image=False,
            has_logo=False,
            updated_at=program.updated_at,
        )
    return design_schema(design)


async def preview_png(session: AsyncSession, *, program_id: uuid.UUID) -> bytes:
    repo = ProgramRepository(session)
    program = await repo.get(program_id)
    if program is None:
        raise ProgramNotFound()
    tiers = (await repo.tiers([program.id]))[program.id]
    art = _art(await repo.get_design(program_id))
    return await asyncio.to_thread(
        render.render_card,
        art,
        program_name=program.name,
        tier_name=tiers[0].name if tiers else "",
        member_name=SAMPLE_NAME,
        masked_number=cardnumbers.mask_card_number(SAMPLE_NUMBER),
        qr_data=SAMPLE_NUMBER,
    )


async def holder_name(session: AsyncSession, card: Card) -> str:
    """The name on the card: the app user's, or the walk-in customer's until they sign in."""
    if card.user_id is not None:
        return (await accounts.get_user(session, user_id=card.user_id)).display_name
    if card.customer_id is not None:
        customer = await customers.known_customer(
            session, merchant_id=card.merchant_id, customer_id=card.customer_id
        )
        return customer.name or ""
    return ""


async def card_png(session: AsyncSession, *, card_id: uuid.UUID, user_id: uuid.UUID) -> bytes:
    """The member's card: design, name, masked number, and a QR of the card number."""
    ctx = (await access_card(session, card_id=card_id, user_id=user_id)).ctx
    member_name = await holder_name(session, ctx.card)
    art = _art(await ProgramRepository(session).get_design(ctx.program.id))
    return await asyncio.to_thread(
        render.render_card,
        art,
        program_name=ctx.program.name,
        tier_name=ctx.tier.name,
        member_name=member_name,
        masked_number=cardnumbers.mask_card_number(ctx.card.card_number),
        qr_data=ctx.card.card_number,
    )
