"""Card numbers: 16 digits, the last one a Luhn check digit (catches any single typo and most
transpositions when a clerk types the number)."""

from __future__ import annotations

import secrets

CARD_NUMBER_LENGTH = 16
# a leading 8 keeps numbers clear of payment-card ranges (4/5/6) and never starts with 0
PREFIX = "8"


def luhn_check_digit(payload: str) -> str:
    """The digit that makes `payload + digit` pass the Luhn check."""
    total = 0
    for index, char in enumerate(reversed(payload)):
        digit = int(char)
        if index % 2 == 0:  # doubled: these sit at odd positions once the check digit is appended
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return str((10 - total % 10) % 10)


def is_valid_card_number(number: str) -> bool:
    if len(number) != CARD_NUMBER_LENGTH or not number.isdigit():
        return False
    return luhn_check_digit(number[:-1]) == number[-1]


def new_card_number() -> str:
    body_length = CARD_NUMBER_LENGTH - len(PREFIX) - 1
    body = PREFIX + "".join(str(secrets.randbelow(10)) for _ in range(body_length))
    return body + luhn_check_digit(body)


def normalise_card_number(raw: str) -> str:
    """Accept what a clerk types: spaces and dashes are ignored."""
    return raw.replace(" ", "").replace("-", "")


def mask_card_number(number: str) -> str:
    """`8123 **** **** 4567`: enough for the holder to recognise, useless to a bystander."""
    return f"{number[:4]} **** **** {number[-4:]}"
