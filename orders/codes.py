"""Order codes and QR payloads: pure helpers, no database.

An order code is 11 Crockford base32 characters (55 random bits) and one Damm check
character over GF(32): 12 characters, one more than a coupon code, so a clerk's typed code
says by its length alone whether it is an order or a coupon, and a typo is refused before
any database access. Typing is forgiving (case, O→0, I/L→1, hyphens and spaces dropped).
"""

from __future__ import annotations

import io
import secrets
from typing import Any

import qrcode
import qrcode.constants
from PIL import Image

from core.signing import SignatureInvalid, sign, verify

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
_TYPING = str.maketrans({"O": "0", "I": "1", "L": "1"})
RANDOM_CHARS = 11
CODE_LENGTH = RANDOM_CHARS + 1
QR_TYPE = "ord"  # keeps order payloads apart from coupons ("cpn") and card tokens


def _times_two(x: int) -> int:
    x <<= 1
    return x ^ 0b100101 if x & 0b100000 else x


def _damm(values: list[int]) -> int:
    interim = 0
    for value in values:
        interim = _times_two(interim) ^ value
    return interim


def check_character(body: str) -> str:
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
    return "".join(typed.split()).replace("-", "").upper().translate(_TYPING)


def looks_like_order_code(typed: str) -> bool:
    return is_valid(normalise(typed))


def display(code: str) -> str:
    """Grouped for reading aloud: 4-4-4."""
    return f"{code[:4]}-{code[4:8]}-{code[8:]}"


def qr_payload(code: str, keys: list[tuple[str, bytes]]) -> str:
    return sign({"t": QR_TYPE, "c": code}, keys)


def code_from_qr(token: str, keys: list[tuple[str, bytes]]) -> str | None:
    """The code an order QR carries, or None if forged, altered or not an order's."""
    try:
        payload: dict[str, Any] = verify(token, keys)
    except SignatureInvalid:
        return None
    code = payload.get("c")
    if payload.get("t") != QR_TYPE or not isinstance(code, str) or not is_valid(code):
        return None
    return code


def qr_png(content: str, size: int) -> bytes:
    """A square black-on-white QR PNG about `size` pixels wide (whole modules, crisp)."""
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=2, box_size=1)
    qr.add_data(content)
    qr.make(fit=True)
    modules = qr.get_matrix()
    count = len(modules)
    scale = max(1, size // count)
    image = Image.new("1", (count, count), 1)
    image.putdata([0 if dark else 1 for row in modules for dark in row])
    image = image.resize((count * scale, count * scale), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
