"""TRUSTED_PROXIES: which peers may name the client in X-Forwarded-For, and which address is the client."""

from babelstream.gateway.trusted_proxies import TrustedProxies


def test_addresses_and_networks_are_trusted_and_nothing_else():
    proxies = TrustedProxies(["127.0.0.1", "10.0.0.0/8", "::1"])
    assert "127.0.0.1" in proxies and "10.9.8.7" in proxies and "::1" in proxies and "[::1]" in proxies
    assert "192.168.1.1" not in proxies and "localhost" not in proxies and "" not in proxies
    assert None not in proxies and "1" * 500 not in proxies


def test_the_client_is_the_right_most_hop_that_is_not_a_trusted_proxy():
    proxies = TrustedProxies(["10.0.0.0/8"])
    assert proxies.client_of("203.0.113.9, 10.0.0.2") == "203.0.113.9"
    # A client cannot pass itself off as another by writing the header itself: its own hop is the right-most.
    assert proxies.client_of("1.1.1.1, 203.0.113.9, 10.0.0.2") == "203.0.113.9"
    assert proxies.client_of("203.0.113.9:5123") == "203.0.113.9"
    assert proxies.client_of("[2001:db8::1]:443, 10.0.0.3") == "2001:db8::1"
    assert proxies.client_of("10.0.0.5, 10.0.0.2") == "10.0.0.5"  # all proxies: the first is the client
    assert proxies.client_of(" , ") == ""


def test_no_proxies_trusts_nobody():
    proxies = TrustedProxies(())
    assert not proxies and "127.0.0.1" not in proxies
