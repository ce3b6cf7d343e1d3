from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accounts.schemas import mask_phone, normalise_phone
from core import signing
from core.errors import InvalidCursor
from core.i18n import parse_accept_language
from core.ids import new_id
from core.money import Money
from core.pagination import decode_cursor, encode_cursor

KEYS = [("k2", b"new-key"), ("k1", b"old-key")]


def test_uuid7_is_version_7_and_time_ordered() -> None:
    ids = [new_id() for _ in range(1000)]
    assert all(i.version == 7 for i in ids)
    assert [i.bytes[:6] for i in ids] == sorted(i.bytes[:6] for i in ids)
    assert len(set(ids)) == 1000


@given(
    st.dictionaries(
        st.text(max_size=10), st.integers(-(2**53), 2**53) | st.text(max_size=20), max_size=5
    )
)
def test_signing_round_trip(payload: dict[str, object]) -> None:
    assert signing.verify(signing.sign(payload, KEYS), KEYS) == payload


def test_signing_refuses_tampering_and_unknown_keys() -> None:
    token = signing.sign({"c": "ABC"}, KEYS)
    kid, body, tag = token.split(".")
    altered = signing.sign({"c": "ABD"}, KEYS).split(".")[1]
    for bad in (f"{kid}.{altered}.{tag}", f"k9.{body}.{tag}", "junk", f"{kid}.{body}.AAAA"):
        with pytest.raises(signing.SignatureInvalid):
            signing.verify(bad, KEYS)
    # rotation: a token signed by the old key still verifies while the key is listed
    old = signing.sign({"c": "X"}, [KEYS[1]])
    assert signing.verify(old, KEYS) == {"c": "X"}
    with pytest.raises(signing.SignatureInvalid):
        signing.verify(old, [KEYS[0]])


def test_cursor_round_trip_and_garbage() -> None:
    cursor = encode_cursor({"id": str(uuid.UUID(int=5)), "d": 12})
    assert decode_cursor(cursor, ("id", "d")) == {"id": str(uuid.UUID(int=5)), "d": 12}
    assert decode_cursor(None, ("id",)) is None
    for bad in ("!!!", encode_cursor({"x": 1}), "e30"):
        with pytest.raises(InvalidCursor):
            decode_cursor(bad, ("id",))


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("13812345678", "+8613812345678"),
        ("+86 138-1234-5678", "+8613812345678"),
        ("+14155550100", "+14155550100"),
    ],
)
def test_phone_normalisation(raw: str, e164: str) -> None:
    assert normalise_phone(raw) == e164


@pytest.mark.parametrize("raw", ["12345", "abc", "+86 000", ""])
def test_phone_rejects_garbage(raw: str) -> None:
    with pytest.raises(ValueError):
        normalise_phone(raw)


def test_phone_masking() -> None:
    assert mask_phone("+8613812345678") == "138****5678"


def test_accept_language() -> None:
    assert parse_accept_language(None) == "zh-CN"
    assert parse_accept_language("en") == "en"
    assert parse_accept_language("zh-CN,zh;q=0.9,en;q=0.8") == "zh-CN"
    assert parse_accept_language("fr-FR, en;q=0.5") == "en"
    assert parse_accept_language("de") == "zh-CN"


def test_money_arithmetic_keeps_currency() -> None:
    assert Money.of(100) + Money.of(250) == Money.of(350)
    with pytest.raises(ValueError):
        Money.of(1, "CNY") + Money.of(1, "USD")


def test_typed_cursor_converts_or_refuses() -> None:
    from core.pagination import decode_cursor_as, uuid_value

    ident = uuid.UUID(int=7)
    cursor = encode_cursor({"id": str(ident), "n": "x"})
    assert decode_cursor_as(cursor, {"id": uuid_value, "n": str}) == {"id": ident, "n": "x"}
    assert decode_cursor_as(None, {"id": uuid_value}) is None
    with pytest.raises(InvalidCursor):
        decode_cursor_as(encode_cursor({"id": "not-a-uuid"}), {"id": uuid_value})
