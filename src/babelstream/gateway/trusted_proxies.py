"""Which peers are reverse proxies whose X-Forwarded-For names the client (TRUSTED_PROXIES): addresses and CIDRs.

The client of a request from a trusted proxy is the right-most address in X-Forwarded-For that is not itself a
trusted proxy (each proxy appends the address it received from); from any other peer, the peer is the client.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache


class TrustedProxies:
    def __init__(self, proxies: tuple[str, ...] | list[str]):
        """proxies: addresses or networks (GatewaySettings has already refused anything else)."""
        self._networks = tuple(ipaddress.ip_network(proxy, strict=False) for proxy in proxies)
        # Peers repeat: the answer for each is kept (bounded, so a flood of addresses holds no memory).
        self._contains = lru_cache(maxsize=4096)(self._is_trusted)

    def __bool__(self) -> bool:
        return bool(self._networks)

    def __contains__(self, host: str | None) -> bool:
        # A host longer than any address is not one (and is not worth a cache entry).
        return bool(host) and len(host) <= 64 and self._contains(host)

    def _is_trusted(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            return False
        return any(address in network for network in self._networks)

    def client(self, peer: str, x_forwarded_for: str) -> str:
        """Whom a request from `peer` is from: the peer, or, from a trusted proxy, the client its X-Forwarded-For
        names (the peer when it names none). Both doors ask this, so both count the same client."""
        if peer not in self:
            return peer
        return (self.client_of(x_forwarded_for) if x_forwarded_for else "") or peer

    def client_of(self, x_forwarded_for: str) -> str:
        """The client's address in a trusted proxy's X-Forwarded-For ("" when the header names none)."""
        hops = [hop.strip() for hop in x_forwarded_for.split(",") if hop.strip()]
        for hop in reversed(hops):
            host = _host(hop)
            if host not in self:
                return host
        return _host(hops[0]) if hops else ""  # every hop a trusted proxy: the first is the client


def _host(hop: str) -> str:
    """An X-Forwarded-For entry without its port, if it carries one ("1.2.3.4:5", "[::1]:5")."""
    if hop.startswith("["):
        return hop[1 : hop.index("]")] if "]" in hop else hop
    if hop.count(":") == 1:
        return hop.partition(":")[0]
    return hop
