"""Order codes and QR payloads: pure helpers, no database.

An order code is 11 Crockford base32 characters (55 random bits) and one Damm check
character (see core.codes, shared with coupon codes): 12 characters, one more than a coupon
code, so a clerk's typed code says by its length alone whether it is an order or a coupon,
and a typo is refused before any database access. Displayed 4-4-4.
"""

from __future__ import annotations

from core.codes import CodeKind, check_character, display, normalise, qr_png

__all__ = [
    "CODE_LENGTH",
    "QR_TYPE",
    "RANDOM_CHARS",
    "check_character",
    "code_from_qr",
    "display",
    "is_valid",
    "looks_like_order_code",
    "new_code",
    "normalise",
    "qr_payload",
    "qr_png",
]

# "ord" keeps order payloads apart from coupons ("cpn") and card tokens
ORDER = CodeKind(random_chars=11, qr_type="ord")
RANDOM_CHARS = ORDER.random_chars
CODE_LENGTH = ORDER.length
QR_TYPE = ORDER.qr_type
is_valid = ORDER.is_valid
new_code = ORDER.new_code
qr_payload = ORDER.qr_payload
code_from_qr = ORDER.code_from_qr


def looks_like_order_code(typed: str) -> bool:
    return is_valid(normalise(typed))
