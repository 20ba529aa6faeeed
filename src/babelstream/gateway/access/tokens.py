"""JSON Web Tokens (PyJWT): verifying the ones a client presents, minting them for `babelstream token`.

Verification keys, each accepted only with its own algorithm (never the algorithm a token's header asks for:
that is how an RSA public key gets used as an HMAC secret):
- `JWT_SECRET` → HS256. At least 32 bytes, as RFC 7518 3.2 asks of an HS256 key.
- `JWT_PUBLIC_KEY` → RS256 for an RSA key (2048 bits or more), ES256/ES384/ES512 for a P-256/P-384/P-521 key.
  The variable holds the PEM text itself when it starts with `-----BEGIN`, otherwise the path of a PEM file,
  read once at start. A public key or an X.509 certificate.
Both may be set (say, the CLI mints HS256 tokens while an identity provider issues RS256 ones).

Every token must carry `exp` (in the future, allowing `LEEWAY_SECONDS` of clock skew) and an `aud` naming
`JWT_AUDIENCE`. Optional claims: `sub` (who, for logs), `room`, `role` (`speaker` | `listener`).
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key

from babelstream.gateway.access.errors import AccessConfigError
from babelstream.gateway.access.principal import Method, Principal, Role

# Clocks of an identity provider and a gateway differ by a few seconds; half a minute is the usual allowance.
LEEWAY_SECONDS = 30
MIN_SECRET_BYTES = 32
MIN_RSA_BITS = 2048
_CURVES = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}
_ALGORITHM_NAME = re.compile(r"[A-Za-z0-9]{1,16}")
_SUBJECT_MAX = 128


class TokenRejected(Exception):
    """The token is not accepted; the message says why in words fit for the client and the log (never the token)."""


def algorithm_for(key: Any) -> str:
    """The one algorithm a key is used with."""
    if isinstance(key, (rsa.RSAPublicKey, rsa.RSAPrivateKey)):
        if key.key_size < MIN_RSA_BITS:
            raise AccessConfigError(f"an RSA key of {key.key_size} bits is too short: use {MIN_RSA_BITS} or more")
        return "RS256"
    if isinstance(key, (ec.EllipticCurvePublicKey, ec.EllipticCurvePrivateKey)):
        if key.curve.name not in _CURVES:
            raise AccessConfigError(f"elliptic curve {key.curve.name} is not supported: use P-256 (ES256)")
        return _CURVES[key.curve.name]
    raise AccessConfigError("the key must be an RSA or an elliptic-curve (P-256) key")


def _pem_bytes(value: str, variable: str) -> bytes:
    if value.lstrip().startswith("-----BEGIN"):
        return value.strip().encode("ascii")
    try:
        return Path(value).expanduser().read_bytes()
    except OSError as error:
        raise AccessConfigError(f"{variable}: cannot read {value}: {error.strerror}") from None


def load_public_key(value: str) -> Any:
    """JWT_PUBLIC_KEY: PEM text, or a path to a PEM file holding a public key or a certificate."""
    pem = _pem_bytes(value, "JWT_PUBLIC_KEY")
    try:
        if b"-----BEGIN CERTIFICATE-----" in pem:
            return x509.load_pem_x509_certificate(pem).public_key()
        return load_pem_public_key(pem)
    except ValueError:
        raise AccessConfigError(
            "JWT_PUBLIC_KEY is not a PEM public key or certificate (a private key belongs with whoever mints tokens)"
        ) from None


def load_private_key(path: Path | str) -> Any:
    try:
        return load_pem_private_key(Path(path).expanduser().read_bytes(), password=None)
    except OSError as error:
        raise AccessConfigError(f"cannot read the private key {path}: {error.strerror}") from None
    except (ValueError, TypeError):
        raise AccessConfigError(f"{path} is not an unencrypted PEM private key") from None


def _check_secret(secret: str) -> bytes:
    key = secret.encode("utf-8")
    if len(key) < MIN_SECRET_BYTES:
        raise AccessConfigError(
            f"JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes for HS256 (RFC 7518 3.2); "
            "for example: python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
        )
    return key


@dataclass(frozen=True)
class TokenVerifier:
    keys: dict[str, Any]  # algorithm -> its one key
    audience: str

    @classmethod
    def build(cls, *, secret: str | None, public_key: str | None, audience: str) -> TokenVerifier | None:
        """None when neither JWT_SECRET nor JWT_PUBLIC_KEY is set; AccessConfigError when one cannot be used."""
        keys: dict[str, Any] = {}
        if secret:
            keys["HS256"] = _check_secret(secret)
        if public_key:
            key = load_public_key(public_key)
            keys[algorithm_for(key)] = key
        if not keys:
            return None
        if not audience:
            raise AccessConfigError("JWT_AUDIENCE must not be empty: every token's `aud` is checked against it")
        return cls(keys=keys, audience=audience)

    def verify(self, token: str) -> Principal:
        try:
            algorithm = jwt.get_unverified_header(token).get("alg")
        except jwt.InvalidTokenError:
            raise TokenRejected("the token is malformed") from None
        if algorithm not in self.keys:
            readable = isinstance(algorithm, str) and _ALGORITHM_NAME.fullmatch(algorithm)
            shown = algorithm if readable else "its algorithm"
            raise TokenRejected(f"tokens signed with {shown} are not accepted here (accepted: {', '.join(self.keys)})")
        try:
            claims = jwt.decode(
                token, self.keys[algorithm], algorithms=[algorithm], audience=self.audience,
                leeway=LEEWAY_SECONDS, options={"require": ["exp", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise TokenRejected("the token has expired") from None
        except jwt.MissingRequiredClaimError as error:
            raise TokenRejected(f"the token has no {error.claim!r} claim") from None
        except jwt.InvalidAudienceError:
            raise TokenRejected(f"the token is not for this server (its audience must be {self.audience!r})") from None
        except jwt.InvalidSignatureError:
            raise TokenRejected("the token's signature does not verify") from None
        except jwt.ImmatureSignatureError:
            raise TokenRejected("the token is not valid yet") from None
        except jwt.DecodeError:
            raise TokenRejected("the token is malformed") from None
        except jwt.InvalidTokenError:
            raise TokenRejected("the token is not valid") from None
        return _principal(claims)


def _principal(claims: dict[str, Any]) -> Principal:
    room = claims.get("room")
    if room is not None and (not isinstance(room, str) or not room):
        raise TokenRejected("the token's `room` claim must be a non-empty string")
    role = claims.get("role")
    if role is not None and role not in tuple(Role):
        raise TokenRejected("the token's `role` claim must be 'speaker' or 'listener'")
    subject = claims.get("sub")
    name = subject if isinstance(subject, str) and subject.isprintable() and subject else "unnamed token"
    return Principal(
        name=name[:_SUBJECT_MAX], method=Method.JWT, room=room, role=Role(role) if role else None,
        expires_at=float(claims["exp"]),
    )


# -- minting -------------------------------------------------------------------------------------------------

_TTL = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd]?)")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_ttl(text: str) -> float:
    """`90`, `90s`, `30m`, `2h`, `7d` → seconds."""
    match = _TTL.fullmatch(text.strip().lower())
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"{text!r} is not a duration: a positive number with s, m, h or d (e.g. 2h)")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def mint_token(
    *, secret: str | None = None, private_key: Any = None, audience: str, ttl_seconds: float,
    subject: str | None = None, room: str | None = None, role: Role | str | None = None,
    now: float | None = None,
) -> str:
    """A signed token: HS256 with the shared secret, or RS256/ES256 with a private key (whose public half is
    the gateways' JWT_PUBLIC_KEY). `jti` is random, so two tokens minted in the same second still differ."""
    if (secret is None) == (private_key is None):
        raise AccessConfigError("a token is signed with JWT_SECRET or with a private key: give exactly one")
    issued = int(time.time() if now is None else now)
    claims: dict[str, Any] = {
        "aud": audience, "iat": issued, "exp": issued + max(1, round(ttl_seconds)), "jti": uuid.uuid4().hex,
    }
    if subject:
        claims["sub"] = subject
    if room:
        claims["room"] = room
    if role:
        claims["role"] = str(Role(role))
    if secret is not None:
        return jwt.encode(claims, _check_secret(secret), algorithm="HS256")
    return jwt.encode(claims, private_key, algorithm=algorithm_for(private_key))
