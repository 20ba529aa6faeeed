"""The counts behind the connection limits: sockets in all and per address, upgrades per second per address."""

from __future__ import annotations

from babelstream.gateway.socket_limits import SocketLimits, address_key


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_sockets_past_the_total_or_per_address_are_refused_and_released_ones_come_back():
    limits = SocketLimits(max_sockets=3, max_per_address=2, handshakes_per_second=10)
    a1, a2 = limits.open("10.0.0.1"), limits.open("10.0.0.1")
    assert limits.open("10.0.0.1") is None  # per address
    b1 = limits.open("10.0.0.2")
    assert limits.open("10.0.0.3") is None  # in all
    a1.release()
    a1.release()  # once only, whoever calls it
    assert limits.open_sockets == 2 and limits.held_by("10.0.0.1") == 1
    assert limits.open("10.0.0.1") is not None
    for ticket in (a2, b1):
        ticket.release()
    assert limits.open_sockets == 1 and limits._per_address == {"10.0.0.1": 1}


def test_ipv6_counts_per_64_and_mapped_ipv4_as_ipv4():
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:bbbb::2") == "2001:db8:1:2::/64"
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert address_key("/run/gateway.sock") == "/run/gateway.sock"


def test_handshakes_are_a_token_bucket_of_one_seconds_worth_per_address():
    clock = Clock()
    limits = SocketLimits(max_sockets=100, max_per_address=100, handshakes_per_second=3, clock=clock)
    ticket = limits.open("10.0.0.1")
    assert [limits.upgrade(ticket, "10.0.0.1") for _ in range(3)] == [None] * 3
    assert "more than 3 WebSocket handshakes a second" in limits.upgrade(ticket, "10.0.0.1")
    assert limits.upgrade(limits.open("10.0.0.2"), "10.0.0.2") is None  # its own bucket
    clock.now += 0.34  # a third of a second: one token
    assert limits.upgrade(ticket, "10.0.0.1") is None
    assert limits.upgrade(ticket, "10.0.0.1") is not None
    clock.now += 60  # idle buckets are full again, and dropped at the next sweep
    limits.upgrade(ticket, "10.0.0.3")
    assert set(limits._buckets) == {"10.0.0.3"}


def test_a_trusted_proxys_socket_counts_against_the_client_its_upgrade_names():
    limits = SocketLimits(max_sockets=100, max_per_address=1, handshakes_per_second=10)
    via_proxy = [limits.open("10.9.9.9", proxy=True) for _ in range(3)]
    assert all(via_proxy) and limits.held_by("10.9.9.9") == 0  # the proxy is not one client
    assert limits.upgrade(via_proxy[0], "203.0.113.5") is None
    assert via_proxy[0].client == "203.0.113.5" and limits.held_by("203.0.113.5") == 1
    assert "more than 1 connections from one address" in limits.upgrade(via_proxy[1], "203.0.113.5")
    via_proxy[0].release()
    assert limits.held_by("203.0.113.5") == 0 and limits.upgrade(via_proxy[1], "203.0.113.5") is None
