"""The access rule, built once from the gateway's settings: who may open a session or call the HTTP API.

Auth is on iff a credential source is configured (API_KEYS_FILE, JWT_SECRET, JWT_PUBLIC_KEY); then every
request must carry an accepted credential. Off, every request is the anonymous principal, which
`require_credentials_for` allows only on a loopback address unless the operator says --insecure.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass

from babelstream.gateway.access.api_keys import ApiKeys
from babelstream.gateway.access.credentials import CredentialError, CredentialKind, RawHeaders, extract_credential
from babelstream.gateway.access.errors import AccessConfigError
from babelstream.gateway.access.principal import ANONYMOUS, Method, Principal, Role
from babelstream.gateway.access.refusal import Refusal, RefusalKind
from babelstream.gateway.access.tokens import TokenRejected, TokenVerifier
from babelstream.gateway.settings import GatewaySettings

log = logging.getLogger(__name__)

HOW_TO_CONFIGURE = (
    "set API_KEYS_FILE (then `babelstream keys add NAME` prints a key), JWT_SECRET (32+ bytes; "
    "`babelstream token` mints tokens) or JWT_PUBLIC_KEY (tokens from your own issuer); see docs/security.md"
)


class InsecureBinding(AccessConfigError):
    """A non-loopback address with no credential configured and no --insecure."""


def is_loopback(host: str) -> bool:
    """`localhost` or a loopback IP (127.0.0.0/8, ::1, an IPv4-mapped 127.x). A name that must be resolved is
    not taken on trust: it may resolve elsewhere tomorrow."""
    host = host.strip().strip("[]").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or bool(mapped and mapped.is_loopback)


def credentials_configured(settings: GatewaySettings) -> bool:
    return bool(settings.api_keys_file or settings.jwt_secret or settings.jwt_public_key)


def require_credentials_for(settings: GatewaySettings, *, insecure: bool) -> None:
    """The start-up rule: raise InsecureBinding (its message says how to configure credentials) when the
    gateway would listen beyond this machine with auth off, unless --insecure was given (then warn)."""
    if credentials_configured(settings) or is_loopback(settings.host):
        return
    if insecure:
        log.warning(
            "listening on %s with no credentials (--insecure): anyone who can reach it can use it", settings.host
        )
        return
    raise InsecureBinding(
        f"refusing to listen on {settings.host} with no credentials configured: anyone who can reach it could use "
        f"it. To require credentials, {HOW_TO_CONFIGURE}. To run without them anyway, pass --insecure."
    )


@dataclass(frozen=True)
class AccessPolicy:
    api_keys: ApiKeys | None = None
    tokens: TokenVerifier | None = None

    @classmethod
    def from_settings(cls, settings: GatewaySettings) -> AccessPolicy:
        """Reads the key file and the public key now, so a mistake stops the start (AccessConfigError)."""
        secret = settings.jwt_secret.get_secret_value() if settings.jwt_secret else None
        return cls(
            api_keys=ApiKeys(settings.api_keys_file) if settings.api_keys_file else None,
            tokens=TokenVerifier.build(
                secret=secret, public_key=settings.jwt_public_key, audience=settings.jwt_audience
            ),
        )

    @property
    def enabled(self) -> bool:
        return self.api_keys is not None or self.tokens is not None

    def check(self, headers: RawHeaders, query_string: bytes | str = b"") -> Principal | Refusal:
        """Who the request's credential names, or why it is refused. Call it before the session says
        `connected` (WebSocket) or before the route runs (HTTP)."""
        if not self.enabled:
            return ANONYMOUS
        try:
            credential = extract_credential(headers, query_string)
        except CredentialError as error:
            return self._refuse(str(error), presented=True)
        if credential is None:
            return self._refuse(
                "this server requires a credential: send `Authorization: Bearer <key or token>` or `?token=`",
                presented=False,
            )
        if credential.kind is CredentialKind.JWT:
            if self.tokens is None:
                return self._refuse("this server accepts API keys, not tokens", presented=True)
            try:
                principal = self.tokens.verify(credential.secret)
            except TokenRejected as rejected:
                return self._refuse(str(rejected), presented=True)
        else:
            if self.api_keys is None:
                return self._refuse("this server accepts tokens (JWT), not API keys", presented=True)
            name = self.api_keys.lookup(credential.secret)
            if name is None:
                return self._refuse("the API key is not known (revoked, or mistyped)", presented=True)
            principal = Principal(name=name, method=Method.API_KEY)
        log.debug("credential accepted: %s %s", principal.method, principal.name)
        return principal

    def authorize(self, principal: Principal, *, room: str | None = None, role: Role | None = None) -> Refusal | None:
        """Whether an accepted principal may enter `room` as `role` (the rooms feature): None, or a `forbidden`
        refusal. An unrestricted credential may do anything."""
        if room is not None and not principal.may_enter(room):
            reason = "this credential is for another room"
        elif role is not None and not principal.may_act_as(role):
            reason = f"this credential allows the {principal.role} role only, not {role}"
        else:
            return None
        log.info("refused %s: forbidden: %s", principal.name, reason)
        return Refusal(RefusalKind.FORBIDDEN, reason, credential_presented=True)

    @staticmethod
    def _refuse(reason: str, *, presented: bool) -> Refusal:
        log.info("refused: unauthenticated: %s", reason)
        return Refusal(RefusalKind.UNAUTHENTICATED, reason, credential_presented=presented)
