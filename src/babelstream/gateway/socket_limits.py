"""What a client may hold before it has a session: sockets in all, sockets per address, upgrades per second per address.

The HTTP protocol (websocket/uvicorn_adapter.py) asks as a socket opens and when an upgrade request's head is
complete, before any session code runs; docs/security.md lists the limits and their refusals. Addresses are
counted as given: the adapter resolves `X-Forwarded-For` (from TRUSTED_PROXIES only) before it asks.
Single-threaded (the event loop), so plain counters and dicts.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections import Counter
from collections.abc import Callable

log = logging.getLogger(__name__)

# Buckets untouched this long are full again (they hold one second's worth) and are dropped: the table holds only
# the addresses that opened a WebSocket lately, however many have ever connected.
_SWEEP_SECONDS = 10.0
_LOG_EVERY_SECONDS = 10.0


def address_key(address: str) -> str:
    """What is counted as one client: an IPv4 address, or an IPv6 /64 — the smallest block an ISP hands one
    customer, so rotating through the addresses of one's own /64 does not multiply one's share."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address  # a Unix socket's path, a proxy's name: counted as it is
    if ip.version == 6:
        if ip.ipv4_mapped is not None:  # a dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return address


class SocketTicket:
    """One open socket's place in the counts, released exactly once by whichever protocol holds the socket when
    it closes (uvicorn's HTTP protocol hands an upgraded socket to another)."""

    __slots__ = ("_limits", "key", "client")

    def __init__(self, limits: SocketLimits, key: str | None, client: str | None):
        self._limits = limits
        self.key = key  # the address it counts against; None for a trusted proxy's socket until an upgrade names one
        self.client = client  # the client's address, for logs: the peer, or whom a trusted proxy speaks for

    def release(self) -> None:
        limits, self._limits = self._limits, None
        if limits is not None:
            limits._release(self.key)


class SocketLimits:
    def __init__(self, max_sockets: int, max_per_address: int, handshakes_per_second: int,
                 clock: Callable[[], float] = time.monotonic):
        self.max_sockets = max_sockets
        self.max_per_address = max_per_address
        self.handshakes_per_second = handshakes_per_second
        self.open_sockets = 0
        self._clock = clock
        self._per_address: dict[str, int] = {}
        self._buckets: dict[str, tuple[float, float]] = {}  # address -> (tokens, when they were counted)
        self._swept_at = clock()
        # Sockets refused before they were a session, by reason (the gateway's metrics read it); and a log line
        # per reason at most every _LOG_EVERY_SECONDS, so a flood is visible without writing a line per socket.
        self.refusals: Counter[str] = Counter()
        self._logged: dict[str, tuple[float, int]] = {}  # reason -> (when last logged, count then)

    def refused(self, reason: str, client: str | None = None) -> None:
        """A socket was refused before it became a session: counted, and logged (rate-limited)."""
        self.refusals[reason] += 1
        now = self._clock()
        logged_at, count_then = self._logged.get(reason, (float("-inf"), 0))
        if now - logged_at >= _LOG_EVERY_SECONDS:
            log.warning("refused before the upgrade (%s): %d socket(s) since the last such line, latest from %s",
                        reason, self.refusals[reason] - count_then, client or "an unknown address")
            self._logged[reason] = (now, self.refusals[reason])

    def open(self, peer: str | None, *, proxy: bool = False) -> SocketTicket | None:
        """A socket was accepted from `peer`: its ticket, or None when it must be closed at once (a cap is full).
        A trusted proxy's socket is not counted against the proxy: an upgrade on it names the client."""
        if self.open_sockets >= self.max_sockets:
            self.refused("max_sockets", peer)
            return None
        key = None if proxy or peer is None else address_key(peer)
        if key is not None:
            held = self._per_address.get(key, 0)
            if held >= self.max_per_address:
                self.refused("connections_per_ip", peer)
                return None
            self._per_address[key] = held + 1
        self.open_sockets += 1
        return SocketTicket(self, key, peer)

    def upgrade(self, ticket: SocketTicket, client: str) -> str | None:
        """An upgrade request on `ticket`'s socket, from `client`: None when allowed, else why not (for a 429)."""
        key = address_key(client)
        if not self._take_handshake(key):
            self.refused("handshakes_per_ip", client)
            return f"more than {self.handshakes_per_second} WebSocket handshakes a second from one address"
        ticket.client = client
        if ticket.key != key:  # a trusted proxy's socket: from now on it counts against the client it carries
            held = self._per_address.get(key, 0)
            if held >= self.max_per_address:
                self.refused("connections_per_ip", client)
                return f"more than {self.max_per_address} connections from one address"
            self._per_address[key] = held + 1
            if ticket.key is not None:
                self._forget(ticket.key)
            ticket.key = key
        return None

    def call(self, client: str) -> str | None:
        """A gRPC Translate call from `client` (its socket is counted by `open` as an upgraded one is): None when
        allowed, else why not. Calls take from the same bucket as WebSocket handshakes: a flood of calls costs
        what a flood of upgrades does (a credential check and a session each)."""
        if not self._take_handshake(address_key(client)):
            self.refused("handshakes_per_ip", client)
            return f"more than {self.handshakes_per_second} new sessions a second from one address"
        return None

    def held_by(self, address: str) -> int:
        return self._per_address.get(address_key(address), 0)

    def _release(self, key: str | None) -> None:
        self.open_sockets -= 1
        if key is not None:
            self._forget(key)

    def _forget(self, key: str) -> None:
        held = self._per_address[key] - 1
        if held:
            self._per_address[key] = held
        else:
            del self._per_address[key]  # the table holds only addresses with open sockets

    def _take_handshake(self, key: str) -> bool:
        """A token bucket per address holding one second's worth: a page's reconnects pass, a flood does not."""
        now = self._clock()
        if now - self._swept_at > _SWEEP_SECONDS:
            self._swept_at = now
            stale = now - 1.0  # refilled to full by now
            self._buckets = {k: bucket for k, bucket in self._buckets.items() if bucket[1] > stale}
        rate = self.handshakes_per_second
        tokens, at = self._buckets.get(key, (float(rate), now))
        tokens = min(float(rate), tokens + (now - at) * rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return False
        self._buckets[key] = (tokens - 1.0, now)
        return True
