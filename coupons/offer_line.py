"""One line that says what a campaign gives, in the request's language (nearby's
`best_offer`): `立减¥10.00（满¥50.00可用）` / `¥10.00 off over ¥50.00`, `8折，最高减¥15.00` /
`20% off (up to ¥15.00)`, `赠送可乐` / `Free 可乐`. Money is always in yuan (`core.money`)."""

from __future__ import annotations

from core.i18n import current_language
from core.money import format_money


def zhe(percent_off: int) -> str:
    """20% off is 8折, 15% off 8.5折, 5% off 9.5折 (the way Chinese shops write it)."""
    tenths = 100 - percent_off
    return f"{tenths // 10}折" if tenths % 10 == 0 else f"{tenths / 10:g}折"


def offer_line(
    kind: str,
    *,
    amount: int | None,
    percent: int | None,
    max_off: int | None,
    min_spend: int | None,
    currency: str,
    gift_name: str | None,
) -> str:
    english = current_language.get() == "en"
    if kind == "amount_off" and amount is not None:
        line = (
            f"{format_money(amount, currency)} off"
            if english
            else (f"立减{format_money(amount, currency)}")
        )
    elif kind == "percent_off" and percent is not None:
        if english:
            line = f"{percent}% off"
            if max_off is not None:
                line += f" (up to {format_money(max_off, currency)})"
        else:
            line = zhe(percent)
            if max_off is not None:
                line += f"，最高减{format_money(max_off, currency)}"
    else:
        line = f"Free {gift_name or 'gift'}" if english else f"赠送{gift_name or '礼品'}"
    if min_spend:
        spend = format_money(min_spend, currency)
        line += f" over {spend}" if english else f"（满{spend}可用）"
    return line


def offer_line_of_json(values: list[object]) -> str:
    """The line for nearby's `[kind, amount, percent, max_off, min_spend, currency, gift]`."""
    kind, amount, percent, max_off, min_spend, currency, gift = values
    return offer_line(
        str(kind),
        amount=int(amount) if amount is not None else None,  # type: ignore[call-overload]
        percent=int(percent) if percent is not None else None,  # type: ignore[call-overload]
        max_off=int(max_off) if max_off is not None else None,  # type: ignore[call-overload]
        min_spend=int(min_spend) if min_spend is not None else None,  # type: ignore[call-overload]
        currency=str(currency),
        gift_name=str(gift) if gift is not None else None,
    )
