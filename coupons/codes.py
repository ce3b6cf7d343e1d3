"""Coupon codes and QR payloads: pure helpers, no database.

A code is 10 Crockford base32 characters (50 random bits) followed by one check character.
The check character comes from the Damm algorithm over GF(32) (x∘y = 2·x + y): every single
mistyped character and every swap of two adjacent different characters is detected, so a
clerk's typo is refused before any database lookup. Typing is forgiving the Crockford way:
case is ignored, O reads as 0, I and L read as 1, hyphens and spaces are dropped.
"""

from __future__ import annotations

import io
import secrets
from typing import Any

import qrcode
import qrcode.constants
from PIL import Image, ImageDraw, ImageFont

from core.signing import SignatureInvalid, sign, verify

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
_TYPING = str.maketrans({"O": "0", "I": "1", "L": "1"})
RANDOM_CHARS = 10
CODE_LENGTH = RANDOM_CHARS + 1
QR_TYPE = "cpn"  # keeps coupon payloads apart from other signed tokens (cards, ...)


def _times_two(x: int) -> int:
    """Multiply by the generator in GF(2^5) with the primitive polynomial x^5 + x^2 + 1."""
    x <<= 1
    return x ^ 0b100101 if x & 0b100000 else x


def _damm(values: list[int]) -> int:
    interim = 0
    for value in values:
        interim = _times_two(interim) ^ value
    return interim


def check_character(body: str) -> str:
    """The character that makes the Damm checksum of `body + check` zero."""
    return ALPHABET[_times_two(_damm([_VALUE[ch] for ch in body]))]


def is_valid(code: str) -> bool:
    if len(code) != CODE_LENGTH or any(ch not in _VALUE for ch in code):
        return False
    return _damm([_VALUE[ch] for ch in code]) == 0


def new_code() -> str:
    bits = secrets.randbits(5 * RANDOM_CHARS)
    body = "".join(ALPHABET[(bits >> (5 * i)) & 31] for i in range(RANDOM_CHARS))
    return body + check_character(body)


def normalise(typed: str) -> str:
    """What the clerk meant: upper case, O→0, I/L→1, no hyphens or spaces."""
    return "".join(typed.split()).replace("-", "").upper().translate(_TYPING)


def display(code: str) -> str:
    """Grouped for reading aloud and printing: 4-4-3."""
    return f"{code[:4]}-{code[4:8]}-{code[8:]}"


def qr_payload(code: str, keys: list[tuple[str, bytes]]) -> str:
    return sign({"t": QR_TYPE, "c": code}, keys)


def code_from_qr(token: str, keys: list[tuple[str, bytes]]) -> str | None:
    """The code a QR payload carries, or None if forged, altered or not a coupon's."""
    try:
        payload: dict[str, Any] = verify(token, keys)
    except SignatureInvalid:
        return None
    code = payload.get("c")
    if payload.get("t") != QR_TYPE or not isinstance(code, str) or not is_valid(code):
        return None
    return code


def qr_image(content: str, size: int) -> Image.Image:
    """A square black-on-white QR image about `size` pixels wide (whole modules, crisp)."""
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=2, box_size=1)
    qr.add_data(content)
    qr.make(fit=True)
    modules = qr.get_matrix()
    count = len(modules)
    scale = max(1, size // count)
    image = Image.new("1", (count, count), 1)
    image.putdata([0 if dark else 1 for row in modules for dark in row])
    return image.resize((count * scale, count * scale), Image.Resampling.NEAREST)


def qr_png(content: str, size: int) -> bytes:
    buffer = io.BytesIO()
    qr_image(content, size).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


# -- paper sheets --------------------------------------------------------------------------

A4_PX = (1240, 1754)  # A4 at 150 dpi
SHEET_COLUMNS, SHEET_ROWS = 3, 4
_FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",  # Debian fonts-noto-cjk
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for path in _FONT_CANDIDATES:
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            continue
    return ImageFont.load_default(size)


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
    title_font, text_font, code_font = _font(30), _font(24), _font(34)
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
