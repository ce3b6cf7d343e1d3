"""The real client address behind reverse proxies, for per-IP limits.

`X-Forwarded-For` is believed only from the proxies named in `CORNER_TRUSTED_PROXIES`
(addresses or CIDRs, comma-separated). The header is read from the right: each hop appends
the address it saw, so the first address from the right that is not a trusted proxy is the
client. Anything a client writes itself sits to the left of that and is never used; with no
trusted proxies the header is ignored and the socket's peer is the client.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Annotated

from fastapi import Depends, Request

from core.settings import SettingsDep

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def parse_trusted(spec: str) -> tuple[IpNetwork, ...]:
    """`"10.0.0.0/8, 127.0.0.1"` → networks; a malformed entry is a configuration error."""
    networks = []
    for item in spec.split(","):
        if item.strip():
            try:
                networks.append(ipaddress.ip_network(item.strip(), strict=False))
            except ValueError as exc:
                message = f"CORNER_TRUSTED_PROXIES: {item.strip()!r} is not an address"
                raise ValueError(message) from exc
    return tuple(networks)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _trusted(text: str, networks: tuple[IpNetwork, ...]) -> bool:
    address = _address(text)
    return address is not None and any(address in n for n in networks)


def real_client_ip(peer: str, forwarded_for: list[str], trusted: tuple[IpNetwork, ...]) -> str:
    """The client of a request whose socket peer is `peer` and whose X-Forwarded-For headers
    (in order of appearance) are `forwarded_for`."""
    if not trusted or not _trusted(peer, trusted):
        return peer
    hops = [hop.strip() for header in forwarded_for for hop in header.split(",") if hop.strip()]
    for hop in reversed(hops):
        if _address(hop) is None:
            return peer  # a hop we cannot read: trust nothing further left than the proxy
        if not _trusted(hop, trusted):
            return hop
    return hops[0] if hops else peer  # every hop was a trusted proxy


def client_ip(request: Request, trusted_proxies: str) -> str:
    peer = request.client.host if request.client else "unknown"
    return real_client_ip(
        peer, request.headers.getlist("x-forwarded-for"), parse_trusted(trusted_proxies)
    )


async def client_address(request: Request, settings: SettingsDep) -> str:
    """The real client behind the trusted reverse proxies (CORNER_TRUSTED_PROXIES)."""
    return client_ip(request, settings.trusted_proxies)


# `ip: ClientIp` in a route that keeps per-address budgets
ClientIp = Annotated[str, Depends(client_address)]
