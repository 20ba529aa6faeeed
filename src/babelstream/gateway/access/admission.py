"""The whole access check of one request, in one order for every way in: the page's Origin, then the credential.

The native /ws/audio upgrade calls it with the parsed request head (a mapping of lower-case header names);
the HTTP guard with an ASGI scope's raw headers. A page from another site is refused as `origin` whatever
credential it found, so the log says what actually happened.
"""

from __future__ import annotations

from collections.abc import Mapping

from babelstream.gateway.access.credentials import RawHeaders
from babelstream.gateway.access.origins import origin_refusal
from babelstream.gateway.access.policy import AccessPolicy
from babelstream.gateway.access.principal import Principal
from babelstream.gateway.access.refusal import Refusal


def _header(headers: RawHeaders, name: str) -> str | None:
    if isinstance(headers, Mapping):
        return headers.get(name)
    wanted = name.encode("latin-1")
    for key, value in headers:
        if key.lower() == wanted:
            return value.decode("latin-1")
    return None


def admit(
    policy: AccessPolicy, *, headers: RawHeaders, query_string: bytes | str, scheme: str,
    allowlist: tuple[str, ...], bound_host: str,
) -> Principal | Refusal:
    """`scheme` is the request's: `ws`/`wss` for an upgrade, `http`/`https` otherwise."""
    refusal = origin_refusal(
        _header(headers, "origin"), host_header=_header(headers, "host"), scheme=scheme, allowlist=allowlist,
        bound_host=bound_host,
    )
    return refusal or policy.check(headers, query_string)
