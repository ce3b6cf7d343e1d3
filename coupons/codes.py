"""Coupon codes, QR payloads and printable paper sheets: pure helpers, no database.

A coupon code is 10 Crockford base32 characters (50 random bits) followed by one Damm check
character (see core.codes, shared with order codes), displayed 4-4-3.
"""

from __future__ import annotations

import io
from typing import Any

from PIL import Image, ImageDraw

from core.codes import (
    ALPHABET,
    CodeKind,
    check_character,
    display,
    normalise,
    qr_image,
    qr_png,
)
from core.printing import A4_PX, font

__all__ = [
    "ALPHABET",
    "CODE_LENGTH",
    "QR_TYPE",
    "RANDOM_CHARS",
    "check_character",
    "code_from_qr",
    "display",
    "is_valid",
    "new_code",
    "normalise",
    "paper_sheet_pages",
    "paper_sheet_pdf",
    "qr_image",
    "qr_payload",
    "qr_png",
]

# 10 random characters (50 bits) + the check character; "cpn" keeps coupon payloads apart
# from other signed tokens (orders, cards, ...)
COUPON = CodeKind(random_chars=10, qr_type="cpn")
RANDOM_CHARS = COUPON.random_chars
CODE_LENGTH = COUPON.length
QR_TYPE = COUPON.qr_type
is_valid = COUPON.is_valid
new_code = COUPON.new_code
qr_payload = COUPON.qr_payload
code_from_qr = COUPON.code_from_qr


# -- paper sheets --------------------------------------------------------------------------

SHEET_COLUMNS, SHEET_ROWS = 3, 4


def _fit(draw: ImageDraw.ImageDraw, text: str, font: Any, width: int) -> str:
    while text and draw.textlength(text, font=font) > width:
        text = text[:-2] + "…" if len(text) > 2 else ""
    return text


def paper_sheet_pdf(
    *, title: str, subtitle: str, entries: list[tuple[str, str]], footer: str
) -> bytes:
    """A4 pages of cut-out coupons as one PDF (Pillow writes it; no other dependency)."""
    pages = paper_sheet_pages(title=title, subtitle=subtitle, entries=entries, footer=footer)
    buffer = io.BytesIO()
    pages[0].save(buffer, format="PDF", resolution=150.0, save_all=True, append_images=pages[1:])
    return buffer.getvalue()


def paper_sheet_pages(
    *, title: str, subtitle: str, entries: list[tuple[str, str]], footer: str
) -> list[Image.Image]:
    """A4 pages of cut-out coupons: title, the offer, a QR of the signed payload and the code
    to type. `entries` are (code, qr content) pairs; 12 per page."""
    per_page = SHEET_COLUMNS * SHEET_ROWS
    width, height = A4_PX
    margin = 60
    cell_w = (width - 2 * margin) // SHEET_COLUMNS
    cell_h = (height - 2 * margin) // SHEET_ROWS
    title_font, text_font, code_font = font(30), font(24), font(34)
    pages: list[Image.Image] = []
    for first in range(0, max(1, len(entries)), per_page):
        page = Image.new("RGB", A4_PX, "white")
        draw = ImageDraw.Draw(page)
        for index, (code, content) in enumerate(entries[first : first + per_page]):
            col, row = index % SHEET_COLUMNS, index // SHEET_COLUMNS
            x0, y0 = margin + col * cell_w, margin + row * cell_h
            draw.rectangle((x0, y0, x0 + cell_w, y0 + cell_h), outline=(160, 160, 160), width=2)
            inner = cell_w - 40
            draw.text((x0 + 20, y0 + 14), _fit(draw, title, title_font, inner), "black", title_font)
            draw.text(
                (x0 + 20, y0 + 52), _fit(draw, subtitle, text_font, inner), "black", text_font
            )
            qr = qr_image(content, 240).convert("RGB")
            page.paste(qr, (x0 + (cell_w - qr.width) // 2, y0 + 88))
            label = display(code)
            draw.text(
                (x0 + (cell_w - draw.textlength(label, font=code_font)) // 2, y0 + cell_h - 60),
                label,
                "black",
                code_font,
            )
        draw.text((margin, height - margin + 10), footer, (90, 90, 90), text_font)
        pages.append(page)
    return pages
