"""The access rule on the HTTP routes: an ASGI middleware in front of the FastAPI app.

It guards `/api/*` and `/metrics` (the Origin rule, then the credential) and leaves the rest open: `/healthz`
and `/readyz` for orchestrators, and the page, which must load before it can ask the person for a token.
Guarding by path prefix in one place, rather than a dependency on each route, means a route added under
/api/ later is guarded without anyone remembering to.

A refusal is the same JSON as a WebSocket error's fields, `{"kind": ..., "reason": ...}`: 401 with
`WWW-Authenticate: Bearer` for `unauthenticated`, 403 for `origin`. The accepted principal is left in
`request.state.principal` for the route.
"""

from __future__ import annotations

import posixpath

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from babelstream.gateway.access.admission import admit
from babelstream.gateway.access.policy import AccessPolicy
from babelstream.gateway.access.refusal import Refusal, RefusalKind

GUARDED_PREFIXES = ("/api", "/metrics")
REALM = "babelstream"


def is_guarded(path: str, prefixes: tuple[str, ...] = GUARDED_PREFIXES) -> bool:
    """`/api`, `/api/...`, `/metrics`; after normalising the path (`//api`, `/x/../metrics` are the same place)."""
    path = posixpath.normpath("/" + path.lstrip("/")) if path else "/"
    return any(path == prefix or path.startswith(prefix + "/") for prefix in prefixes)


def refusal_response(refusal: Refusal) -> JSONResponse:
    headers = {}
    if refusal.kind is RefusalKind.UNAUTHENTICATED:
        # RFC 6750 3: a challenge on every 401; error="invalid_token" when a credential was sent and refused.
        challenge = f'Bearer realm="{REALM}"'
        if refusal.credential_presented:
            challenge += ', error="invalid_token"'
        headers["WWW-Authenticate"] = challenge
    headers["Cache-Control"] = "no-store"
    return JSONResponse(refusal.body(), status_code=refusal.http_status, headers=headers)


class AccessGuard:
    """`app.add_middleware(AccessGuard, policy=..., allowlist=settings.origin_allowlist, bound_host=settings.host)`"""

    def __init__(
        self, app: ASGIApp, *, policy: AccessPolicy, allowlist: tuple[str, ...], bound_host: str,
        prefixes: tuple[str, ...] = GUARDED_PREFIXES,
    ):
        self.app = app
        self.policy = policy
        self.allowlist = allowlist
        self.bound_host = bound_host
        self.prefixes = prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_guarded(scope["path"], self.prefixes):
            await self.app(scope, receive, send)
            return
        outcome = admit(
            self.policy, headers=scope["headers"], query_string=scope.get("query_string", b""),
            scheme=scope.get("scheme", "http"), allowlist=self.allowlist, bound_host=self.bound_host,
        )
        if isinstance(outcome, Refusal):
            await refusal_response(outcome)(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = outcome
        await self.app(scope, receive, send)
