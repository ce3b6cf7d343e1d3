"""Money: integer minor units plus an ISO 4217 currency, everywhere (API and database)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
DEFAULT_CURRENCY = "CNY"
MAX_AMOUNT = 10**12  # ten billion yuan in fen: far beyond any counter, well inside bigint


class Money(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    amount: int = Field(ge=0, le=MAX_AMOUNT, description="Integer minor units (fen for CNY)")
    currency: Currency = DEFAULT_CURRENCY

    @classmethod
    def of(cls, amount: int, currency: str = DEFAULT_CURRENCY) -> Money:
        return cls(amount=amount, currency=currency)

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(amount=self.amount + other.amount, currency=self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(amount=self.amount - other.amount, currency=self.currency)

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise ValueError(f"currency mismatch: {self.currency} vs {other.currency}")


SYMBOLS = {"CNY": "¥", "HKD": "HK$", "USD": "US$", "EUR": "€"}


def format_money(amount: int, currency: str = DEFAULT_CURRENCY) -> str:
    """For people: `¥50.00` (never "5000 CNY"); minor units are hundredths for these
    currencies. A currency without a symbol is written after the amount (`50.00 JPY`)."""
    sign = "-" if amount < 0 else ""
    major, minor = divmod(abs(amount), 100)
    text = f"{major:,}.{minor:02d}"
    symbol = SYMBOLS.get(currency)
    return f"{sign}{symbol}{text}" if symbol else f"{sign}{text} {currency}"
