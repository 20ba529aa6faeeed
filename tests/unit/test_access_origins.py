"""gateway/access/origins.py: the gateway's own origin only, the allowlist, DNS rebinding."""

from __future__ import annotations

import pytest

from babelstream.gateway.access.origins import normalise, origin_refusal, own_origin
from babelstream.gateway.access.refusal import RefusalKind


def refused(origin, host="127.0.0.1:8000", scheme="ws", allowlist=(), bound="127.0.0.1") -> bool:
    refusal = origin_refusal(origin, host_header=host, scheme=scheme, allowlist=allowlist, bound_host=bound)
    assert refusal is None or refusal.kind is RefusalKind.ORIGIN
    return refusal is not None


@pytest.mark.parametrize(
    ("origin", "expected"),
    [("HTTP://Example.COM:80/", "http://example.com"), ("https://a.example:443", "https://a.example"),
     ("https://a.example:8443", "https://a.example:8443"), ("http://[::1]:8000", "http://[::1]:8000"),
     ("null", None), ("file://", None), ("http://a.example/path", None), ("http://a.example:99999", None)],
)
def test_normalise(origin, expected):
    assert normalise(origin) == expected


def test_own_origin_maps_websocket_schemes():
    assert own_origin("Gateway.Example", "wss") == "https://gateway.example"
    assert own_origin("127.0.0.1:8000", "ws") == "http://127.0.0.1:8000"
    assert own_origin(None, "http") is None


def test_without_an_allowlist_only_the_gateways_own_page_may_connect():
    assert not refused("http://127.0.0.1:8000")
    assert not refused("http://localhost:8000", host="localhost:8000")
    assert not refused(None)  # not a browser
    assert refused("https://evil.example")
    assert refused("http://127.0.0.1:9000")  # another port is another origin
    assert refused("https://127.0.0.1:8000")  # another scheme too
    assert refused("null")  # sandboxed frames, file:// pages


def test_dns_rebinding_is_refused_on_loopback():
    """evil.example resolved to 127.0.0.1: Host and Origin agree, and both name another site."""
    assert refused("http://evil.example:8000", host="evil.example:8000")
    assert refused(None, host="evil.example:8000")  # a same-origin fetch after rebinding sends no Origin
    assert refused(None, host=None)
    assert refused(None, host="[::1")  # malformed


def test_on_a_public_address_the_host_header_names_the_server():
    assert not refused("https://babel.example", host="babel.example", scheme="wss", bound="0.0.0.0")
    assert refused("https://evil.example", host="babel.example", scheme="wss", bound="0.0.0.0")


def test_with_an_allowlist():
    allowlist = ("https://app.example", "http://localhost:3000/")
    assert not refused("https://app.example", allowlist=allowlist)
    assert not refused("https://APP.example:443", allowlist=allowlist)
    assert not refused("http://localhost:3000", allowlist=allowlist)
    assert not refused(None, allowlist=allowlist)
    assert refused("http://127.0.0.1:8000", allowlist=allowlist)  # the list replaces the default
    # behind a reverse proxy: the Host is the public name, the list says which pages
    assert not refused("https://app.example", host="app.example", bound="127.0.0.1", allowlist=allowlist)


def test_star_allows_any_origin():
    assert not refused("https://anything.example", allowlist=("*",))


def test_the_reason_quotes_the_origin_but_no_more_than_200_characters():
    refusal = origin_refusal("https://" + "e" * 500, host_header="127.0.0.1:8000", scheme="ws", allowlist=(),
                             bound_host="127.0.0.1")
    assert refusal is not None and "ORIGIN_ALLOWLIST" in refusal.reason and len(refusal.reason) < 320
