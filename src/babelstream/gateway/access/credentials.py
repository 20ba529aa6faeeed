"""Where a client's credential is found, and which kind it is.

Two places, as RFC 6750 names them: the `Authorization: Bearer <credential>` header, and the query parameter
`token=` (browsers cannot set headers on a WebSocket, so the page uses `/ws/audio?token=...`). Both are read
from the request as the server has it: headers as an ASGI scope's raw list of byte pairs or as a mapping of
lower-case names (the native WebSocket's parsed request head); the query string raw, bytes or text.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Union
from urllib.parse import parse_qsl

QUERY_PARAMETER = "token"
_JWT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
# Longer than any key or token this server issues or accepts; a guard against megabytes of header.
MAX_CREDENTIAL_CHARS = 8192

RawHeaders = Union[Mapping[str, str], Iterable[tuple[bytes, bytes]]]


class CredentialKind(enum.StrEnum):
    API_KEY = "api_key"
    JWT = "jwt"


@dataclass(frozen=True)
class Credential:
    kind: CredentialKind
    # repr=False: a Credential printed in a traceback or a debug log shows its kind, not its secret.
    secret: str = field(repr=False)


class CredentialError(Exception):
    """A credential was sent, but not in a form that can be read (two different ones, a non-Bearer scheme)."""


def _authorization(headers: RawHeaders) -> list[str]:
    if isinstance(headers, Mapping):
        value = headers.get("authorization")
        return [] if value is None else [value]
    return [value.decode("latin-1") for name, value in headers if name.lower() == b"authorization"]


def _from_header(headers: RawHeaders) -> str | None:
    values = _authorization(headers)
    if not values:
        return None
    if len(values) > 1 or "," in values[0]:
        raise CredentialError("send one Authorization header")
    scheme, _, credential = values[0].strip().partition(" ")
    if scheme.lower() != "bearer":
        raise CredentialError("the Authorization header must use the Bearer scheme")
    credential = credential.strip()
    if not credential:
        raise CredentialError("the Authorization header has no credential after Bearer")
    return credential


def _from_query(query_string: bytes | str) -> str | None:
    if isinstance(query_string, bytes):
        query_string = query_string.decode("latin-1")
    values = [value for name, value in parse_qsl(query_string, keep_blank_values=True) if name == QUERY_PARAMETER]
    if not values:
        return None
    if len(set(values)) > 1:
        raise CredentialError("send one token= parameter")
    if not values[0]:
        raise CredentialError("the token= parameter is empty")
    return values[0]


def classify(secret: str) -> CredentialKind:
    """A JWT is three base64url parts joined by two dots; anything else is taken as an API key (keys made by
    `babelstream keys add` start with `bsk_` and have no dot)."""
    return CredentialKind.JWT if _JWT.fullmatch(secret) else CredentialKind.API_KEY


def extract_credential(headers: RawHeaders, query_string: bytes | str = b"") -> Credential | None:
    """The credential the request carries, or None if it carries none. A header and a query parameter that
    disagree are refused rather than one silently preferred."""
    from_header = _from_header(headers)
    from_query = _from_query(query_string)
    if from_header and from_query and from_header != from_query:
        raise CredentialError("the Authorization header and the token= parameter carry different credentials")
    secret = from_header or from_query
    if secret is None:
        return None
    if len(secret) > MAX_CREDENTIAL_CHARS:
        raise CredentialError(f"the credential is longer than {MAX_CREDENTIAL_CHARS} characters")
    return Credential(classify(secret), secret)
