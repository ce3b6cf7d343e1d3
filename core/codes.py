"""Human-typable codes with a check character, their signed QR payloads, and QR images.

Coupons and orders both hand a customer a code to show at the counter. A code is N Crockford
base32 characters (5 random bits each) followed by one check character from the Damm
algorithm over GF(32) (x∘y = 2·x + y): every single mistyped character and every swap of two
adjacent different characters is detected, so a clerk's typo is refused before any database
lookup. Typing is forgiving the Crockford way: case is ignored, O reads as 0, I and L read as
1, hyphens and spaces are dropped. Each kind of code has its own length (so a typed code says
what it is) and its own QR payload type (so one kind's QR is never taken for another's).
"""

from __future__ import annotations

import io
import secrets
from dataclasses import dataclass
from typing import Any

import qrcode
import qrcode.constants
from PIL import Image

from core.signing import SignatureInvalid, sign, verify

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
_TYPING = str.maketrans({"O": "0", "I": "1", "L": "1"})


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


def normalise(typed: str) -> str:
    """What the clerk meant: upper case, O→0, I/L→1, no hyphens or spaces."""
    return "".join(typed.split()).replace("-", "").upper().translate(_TYPING)


def display(code: str) -> str:
    """Grouped by four for reading aloud and printing (the last group takes the rest)."""
    return f"{code[:4]}-{code[4:8]}-{code[8:]}"


@dataclass(frozen=True)
class CodeKind:
    """One kind of code: how many random characters it has, and its QR payload type."""

    random_chars: int
    qr_type: str

    @property
    def length(self) -> int:
        return self.random_chars + 1

    def is_valid(self, code: str) -> bool:
        if len(code) != self.length or any(ch not in _VALUE for ch in code):
            return False
        return _damm([_VALUE[ch] for ch in code]) == 0

    def new_code(self) -> str:
        bits = secrets.randbits(5 * self.random_chars)
        body = "".join(ALPHABET[(bits >> (5 * i)) & 31] for i in range(self.random_chars))
        return body + check_character(body)

    def qr_payload(self, code: str, keys: list[tuple[str, bytes]]) -> str:
        return sign({"t": self.qr_type, "c": code}, keys)

    def code_from_qr(self, token: str, keys: list[tuple[str, bytes]]) -> str | None:
        """The code a QR payload carries, or None if forged, altered or of another kind."""
        try:
            payload: dict[str, Any] = verify(token, keys)
        except SignatureInvalid:
            return None
        code = payload.get("c")
        if payload.get("t") != self.qr_type or not isinstance(code, str):
            return None
        return code if self.is_valid(code) else None


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
