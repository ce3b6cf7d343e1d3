"""Which provider, and which owner: the provider factories by name (one configured provider per
process and settings object) and the callback handlers by reference prefix (the package that
owns the payment: orders, top-ups, count cards; registered in api/wiring.py).

Invariant: a reference is routed to the handler of its longest registered prefix; "" is the
fallback. Registering a prefix again replaces its handler.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from core.payments.fake import FakePaymentProvider
from core.payments.interface import CallbackEvent, PaymentProvider
from core.settings import Settings

if TYPE_CHECKING:
    from core.lean import Connection

_PROVIDERS: dict[tuple[int, str], PaymentProvider] = {}
# name -> factory(settings) returning the configured provider or None (not configured);
# core/providers/* register themselves (imported by providers_for in api/wiring.py)
PROVIDER_FACTORIES: dict[str, Callable[[Settings], PaymentProvider | None]] = {
    "fake": lambda settings: FakePaymentProvider(settings.signing_keys()),
}


def payment_provider(settings: Settings, name: str = "fake") -> PaymentProvider | None:
    """The provider registered under `name`, configured from settings (one per process and
    settings object: the real SDKs load keys and keep HTTP connections)."""
    key = (id(settings), name)
    provider = _PROVIDERS.get(key)
    if provider is None:
        import core.providers  # noqa: F401  (registers the real providers' factories)

        factory = PROVIDER_FACTORIES.get(name)
        provider = factory(settings) if factory is not None else None
        if provider is not None:
            _PROVIDERS[key] = provider
    return provider


class CallbackHandler(Protocol):
    """The owner's side of a verified event: (session, provider, event, now) -> the owner's
    view of the paid thing, or None when `view` is false (the provider's answer has no body:
    the owner need not read it back)."""

    def __call__(
        self,
        session: AsyncSession,
        provider: PaymentProvider,
        event: CallbackEvent,
        now: datetime,
        *,
        view: bool = True,
    ) -> Awaitable[BaseModel | None]: ...


# The common case on a plain connection (core.lean): the payment's move and the owner's side in
# one statement (core.payment_records.locked_payment / moved_payment joined with the owner's
# CTEs); returns the state the payment left when applied, None when nothing was written and
# the event needs the full handler (the caller applies it through the session)
FastCallbackHandler = Callable[
    ["Connection", PaymentProvider, CallbackEvent, datetime], Awaitable[str | None]
]
_HANDLERS: dict[str, CallbackHandler] = {}
_FAST_HANDLERS: dict[str, FastCallbackHandler | None] = {}


def register_callback_handler(
    prefix: str, handler: CallbackHandler, *, fast: FastCallbackHandler | None = None
) -> None:
    """Route callbacks whose reference starts with `prefix` to `handler` (the longest prefix
    wins; "" is the fallback), and their common case to `fast` when given. Packages register
    in api/wiring.py; registering again replaces."""
    _HANDLERS[prefix] = handler
    _FAST_HANDLERS[prefix] = fast


def _prefix_of(reference: str) -> str | None:
    matches = [p for p in _HANDLERS if reference.startswith(p)]
    return max(matches, key=len) if matches else None


def handler_for(reference: str) -> CallbackHandler | None:
    prefix = _prefix_of(reference)
    return _HANDLERS[prefix] if prefix is not None else None


def fast_handler_for(reference: str) -> FastCallbackHandler | None:
    prefix = _prefix_of(reference)
    return _FAST_HANDLERS.get(prefix) if prefix is not None else None
