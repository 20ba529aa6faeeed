"""Which web pages may open a session: the Origin rule.

A browser attaches the page's Origin to every WebSocket it opens, and lets any site open one to any address,
127.0.0.1 included; the server is the only one who can say no. Without ORIGIN_ALLOWLIST the gateway accepts
its own origin only (the page it serves), so a page on another site cannot open a session on a person's local
gateway. Clients that send no Origin are not browsers (a browser always sends one on a WebSocket) and pass.

DNS rebinding defeats a comparison with the Host header alone: evil.example made to resolve to 127.0.0.1
gives the request `Host: evil.example:8000` and `Origin: http://evil.example:8000`, which match. So a gateway
listening on loopback with no allowlist also requires the Host to name loopback (`localhost`, `127.x`, `[::1]`).
Behind a reverse proxy that passes its own Host on, set ORIGIN_ALLOWLIST to the public origin.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from babelstream.gateway.access.policy import is_loopback
from babelstream.gateway.access.refusal import Refusal, RefusalKind

ANY_ORIGIN = "*"
_DEFAULT_PORTS = {"http": 80, "https": 443}
_WEB_SCHEME = {"http": "http", "https": "https", "ws": "http", "wss": "https"}


def normalise(origin: str) -> str | None:
    """`scheme://host[:port]`, lower case, without a default port or a trailing slash; None if not an origin."""
    try:
        parts = urlsplit(origin.strip().rstrip("/"))
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname or parts.path or parts.query or parts.username:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{scheme}://{host}" if port in (None, _DEFAULT_PORTS[scheme]) else f"{scheme}://{host}:{port}"


def own_origin(host_header: str | None, scheme: str) -> str | None:
    """The origin this request was addressed to: its scheme (ws → http, wss → https) and Host header."""
    if not host_header:
        return None
    return normalise(f"{_WEB_SCHEME.get(scheme.lower(), scheme)}://{host_header.strip()}")


def _hostname(host_header: str | None) -> str | None:
    if not host_header:
        return None
    try:
        return urlsplit(f"//{host_header.strip()}").hostname
    except ValueError:
        return None


def _shown(value: str) -> str:
    return repr(value[:200])


def origin_refusal(
    origin: str | None, *, host_header: str | None, scheme: str, allowlist: tuple[str, ...], bound_host: str,
) -> Refusal | None:
    """None if the request may go on, else an `origin` refusal. `scheme` is the request's (http, https, ws,
    wss), `bound_host` the address the gateway listens on (settings.host)."""
    if allowlist:
        if ANY_ORIGIN in allowlist or origin is None:
            return None
        allowed = {normalise(entry) or entry.rstrip("/") for entry in allowlist}
        if (normalise(origin) or origin) in allowed:
            return None
        return Refusal(RefusalKind.ORIGIN, f"origin {_shown(origin)} is not on this server's ORIGIN_ALLOWLIST")
    if is_loopback(bound_host):
        hostname = _hostname(host_header)
        if hostname is None or not is_loopback(hostname):
            return Refusal(
                RefusalKind.ORIGIN,
                f"this gateway listens on loopback and answers only to localhost, not Host {_shown(host_header or '')}"
                " (set ORIGIN_ALLOWLIST to serve it under another name)",
            )
    if origin is None:
        return None
    own = own_origin(host_header, scheme)
    if own is not None and normalise(origin) == own:
        return None
    return Refusal(
        RefusalKind.ORIGIN,
        f"origin {_shown(origin)} is not this server's; set ORIGIN_ALLOWLIST to allow pages from other sites",
    )
