"""Pure rules: the code's check character, typing tolerance, QR signing and discount math."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from core.signing import sign
from coupons import codes, discounts

bodies = st.text(alphabet=codes.ALPHABET, min_size=10, max_size=10)
KEYS = [("k2", b"new-secret"), ("k1", b"old-secret")]


@given(bodies)
def test_generated_and_checked_codes_are_valid(body: str) -> None:
    code = body + codes.check_character(body)
    assert codes.is_valid(code)
    assert codes.normalise(codes.display(code).lower()) == code


@given(bodies, st.integers(0, 10), st.sampled_from(codes.ALPHABET))
def test_any_single_substitution_is_detected(body: str, position: int, char: str) -> None:
    code = body + codes.check_character(body)
    if code[position] == char:
        return
    assert not codes.is_valid(code[:position] + char + code[position + 1 :])


@given(bodies, st.integers(0, 9))
def test_any_adjacent_transposition_is_detected(body: str, position: int) -> None:
    code = body + codes.check_character(body)
    a, b = code[position], code[position + 1]
    if a == b:
        return
    assert not codes.is_valid(code[:position] + b + a + code[position + 2 :])


def test_new_codes_are_random_and_unambiguous() -> None:
    sample = {codes.new_code() for _ in range(2000)}
    assert len(sample) == 2000
    assert all(codes.is_valid(c) and not set(c) & set("ILOU") for c in sample)
    # 10 random characters of 5 bits each
    assert codes.RANDOM_CHARS * 5 >= 50


def test_typing_tolerance() -> None:
    body = "0123456789"
    code = body + codes.check_character(body)
    sloppy = f" o12-3456 789{code[-1].lower()} ".replace("1", "l", 1)
    assert codes.normalise(sloppy) == code
    assert codes.normalise("oil") == "011"
    assert not codes.is_valid(codes.normalise("UUUUUUUUUUU"))


def test_qr_payload_sign_verify_rotation() -> None:
    code = codes.new_code()
    token = codes.qr_payload(code, KEYS)
    assert token.startswith("k2.")
    assert codes.code_from_qr(token, KEYS) == code
    # after rotation the old key still verifies what it signed
    old = codes.qr_payload(code, KEYS[1:])
    assert codes.code_from_qr(old, KEYS) == code
    assert codes.code_from_qr(old, KEYS[:1]) is None
    kid, body, tag = token.split(".")
    flipped = body[:-1] + ("A" if body[-1] != "A" else "B")
    for bad in (f"{kid}.{flipped}.{tag}", f"k9.{body}.{tag}", "x", "", token + "x"):
        assert codes.code_from_qr(bad, KEYS) is None
    # genuinely signed but not a coupon payload, or an invalid code inside
    assert codes.code_from_qr(sign({"t": "card", "c": code}, KEYS), KEYS) is None
    assert codes.code_from_qr(sign({"t": "cpn", "c": "AAAAAAAAAAA"}, KEYS), KEYS) is None


amounts = st.integers(min_value=0, max_value=10**10)


@given(st.integers(1, 100), st.one_of(st.none(), amounts), amounts)
def test_percent_off_properties(percent: int, max_off: int | None, order: int) -> None:
    off = discounts.percent_off(percent, max_off, order)
    assert off is not None
    assert 0 <= off <= order
    if max_off is not None:
        assert off <= max_off
    exact = order * percent / 100
    # rounded in the customer's favour: never less than the exact share (unless capped)
    if max_off is None or max_off >= exact:
        assert exact <= off < exact + 1
    assert discounts.percent_off(percent, max_off, None) is None


@given(amounts, st.one_of(st.none(), amounts))
def test_amount_off_never_exceeds_order(value: int, order: int | None) -> None:
    off = discounts.amount_off(value, order)
    assert off == (value if order is None else min(value, order))


def test_discount_examples() -> None:
    assert discounts.percent_off(15, 500, 6000) == 500
    assert discounts.percent_off(15, None, 999) == 150  # 149.85 rounds up
    assert (
        discounts.discount_for("gift", amount=None, percent=None, max_off=None, order_amount=1) == 0
    )
    assert discounts.meets_min_spend(None, None) is True
    assert discounts.meets_min_spend(5000, None) is None
    assert discounts.meets_min_spend(5000, 5000) is True
    assert discounts.meets_min_spend(5000, 4999) is False
