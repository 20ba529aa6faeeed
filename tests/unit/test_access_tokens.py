"""gateway/access/tokens.py: which tokens are accepted (HS256, RS256, ES256), the claims, minting."""

from __future__ import annotations

import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from babelstream.gateway.access.errors import AccessConfigError
from babelstream.gateway.access.principal import Method, Role
from babelstream.gateway.access.tokens import TokenRejected, TokenVerifier, mint_token, parse_ttl

SECRET = "a-shared-secret-of-at-least-32-bytes!!"
AUDIENCE = "babelstream"


def public_pem(private_key) -> str:
    return private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key():
    return ec.generate_private_key(ec.SECP256R1())


def hs256(**claims) -> str:
    return jwt.encode({"aud": AUDIENCE, "exp": int(time.time()) + 86_400, **claims}, SECRET, algorithm="HS256")


def verifier(**options) -> TokenVerifier:
    built = TokenVerifier.build(**{"secret": SECRET, "public_key": None, "audience": AUDIENCE, **options})
    assert built is not None
    return built


def test_a_valid_hs256_token_names_its_subject_and_restrictions():
    principal = verifier().verify(hs256(sub="alice", room="standup", role="listener"))
    assert (principal.name, principal.method, principal.room, principal.role) == (
        "alice", Method.JWT, "standup", Role.LISTENER,
    )
    unrestricted = verifier().verify(hs256())
    assert (unrestricted.name, unrestricted.room, unrestricted.role) == ("unnamed token", None, None)


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (hs256(exp=int(time.time()) - 120), "the token has expired"),
        (jwt.encode({"aud": AUDIENCE}, SECRET, algorithm="HS256"), "the token has no 'exp' claim"),
        (hs256(aud="someone-else"), "the token is not for this server (its audience must be 'babelstream')"),
        (jwt.encode({"exp": int(time.time()) + 60}, SECRET, algorithm="HS256"), "the token has no 'aud' claim"),
        (jwt.encode({"aud": AUDIENCE, "exp": int(time.time()) + 60}, "another-secret-of-32-bytes-or-more!!",
                    algorithm="HS256"), "the token's signature does not verify"),
        (hs256(nbf=int(time.time()) + 3600), "the token is not valid yet"),
        (hs256(role="admin"), "the token's `role` claim must be 'speaker' or 'listener'"),
        (hs256(room=""), "the token's `room` claim must be a non-empty string"),
        (hs256(room=7), "the token's `room` claim must be a non-empty string"),
        (jwt.api_jws.PyJWS().encode(b"not json", SECRET, algorithm="HS256"), "the token is malformed"),
        ("eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.c2ln", "the token's signature does not verify"),  # checked before parsing
        ("not.a.token", "the token is malformed"),
    ],
)
def test_a_token_is_refused_with_a_reason_that_does_not_echo_it(token, reason):
    with pytest.raises(TokenRejected) as rejected:
        verifier().verify(token)
    assert str(rejected.value) == reason
    assert token not in str(rejected.value)


def test_an_expired_token_within_the_clock_skew_allowance_is_accepted():
    assert verifier().verify(hs256(sub="late", exp=int(time.time()) - 5)).name == "late"


def test_alg_none_and_algorithms_without_a_key_are_refused(rsa_key):
    unsigned = jwt.encode({"aud": AUDIENCE, "exp": int(time.time()) + 60}, None, algorithm="none")
    with pytest.raises(TokenRejected, match="tokens signed with none are not accepted here \\(accepted: HS256\\)"):
        verifier().verify(unsigned)
    rs256 = jwt.encode({"aud": AUDIENCE, "exp": int(time.time()) + 60}, rsa_key, algorithm="RS256")
    with pytest.raises(TokenRejected, match="RS256 are not accepted"):
        verifier().verify(rs256)


def test_rs256_with_a_generated_key_given_as_pem_text(rsa_key):
    check = verifier(secret=None, public_key=public_pem(rsa_key))
    assert list(check.keys) == ["RS256"]
    token = mint_token(private_key=rsa_key, audience=AUDIENCE, ttl_seconds=60, subject="idp-user", role="speaker")
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    principal = check.verify(token)
    assert (principal.name, principal.role) == ("idp-user", Role.SPEAKER)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(TokenRejected, match="signature does not verify"):
        check.verify(mint_token(private_key=other, audience=AUDIENCE, ttl_seconds=60))


def test_es256_with_a_generated_key_given_as_a_file(tmp_path, ec_key):
    (tmp_path / "issuer.pem").write_text(public_pem(ec_key))
    check = verifier(secret=None, public_key=str(tmp_path / "issuer.pem"))
    assert list(check.keys) == ["ES256"]
    token = mint_token(private_key=ec_key, audience=AUDIENCE, ttl_seconds=60, room="r1")
    assert jwt.get_unverified_header(token)["alg"] == "ES256"
    assert check.verify(token).room == "r1"


def test_an_hs256_token_signed_with_the_public_key_text_is_refused(rsa_key):
    """The classic confusion: the attacker knows the public key and uses it as an HMAC secret."""
    pem = public_pem(rsa_key)
    check = verifier(secret=None, public_key=pem)
    forged = jwt.api_jws.PyJWS().encode(
        b'{"aud":"babelstream","exp":9999999999}', b"x" * 32, algorithm="HS256"
    )
    with pytest.raises(TokenRejected, match="HS256 are not accepted"):
        check.verify(forged)


def test_both_keys_at_once_each_with_its_own_algorithm(ec_key):
    check = verifier(public_key=public_pem(ec_key))
    assert sorted(check.keys) == ["ES256", "HS256"]
    assert check.verify(hs256(sub="cli")).name == "cli"
    assert check.verify(mint_token(private_key=ec_key, audience=AUDIENCE, ttl_seconds=60, subject="idp")).name == "idp"


def test_configuration_mistakes_stop_the_start(tmp_path, rsa_key):
    assert TokenVerifier.build(secret=None, public_key=None, audience=AUDIENCE) is None
    with pytest.raises(AccessConfigError, match="at least 32 bytes"):
        TokenVerifier.build(secret="short", public_key=None, audience=AUDIENCE)
    with pytest.raises(AccessConfigError, match="cannot read"):
        TokenVerifier.build(secret=None, public_key=str(tmp_path / "absent.pem"), audience=AUDIENCE)
    private_pem = rsa_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    with pytest.raises(AccessConfigError, match="not a PEM public key"):
        TokenVerifier.build(secret=None, public_key=private_pem, audience=AUDIENCE)
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(AccessConfigError, match="1024 bits is too short"):
        TokenVerifier.build(secret=None, public_key=public_pem(weak), audience=AUDIENCE)
    with pytest.raises(AccessConfigError, match="JWT_AUDIENCE must not be empty"):
        TokenVerifier.build(secret=SECRET, public_key=None, audience="")


def test_minted_hs256_token_carries_the_claims_asked_for():
    token = mint_token(secret=SECRET, audience="other", ttl_seconds=7200, subject="ann", room="R", role=Role.LISTENER,
                       now=1_000_000)
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], audience="other", options={"verify_exp": False})
    assert {key: claims[key] for key in ("aud", "iat", "exp", "sub", "room", "role")} == {
        "aud": "other", "iat": 1_000_000, "exp": 1_007_200, "sub": "ann", "room": "R", "role": "listener",
    }
    assert len(claims["jti"]) == 32
    assert mint_token(secret=SECRET, audience="a", ttl_seconds=60, now=1) != mint_token(
        secret=SECRET, audience="a", ttl_seconds=60, now=1
    )
    with pytest.raises(AccessConfigError, match="exactly one"):
        mint_token(audience="a", ttl_seconds=60)


@pytest.mark.parametrize(("text", "seconds"), [("90", 90), ("90s", 90), ("30m", 1800), ("2h", 7200), ("1.5h", 5400),
                                               ("7d", 604800), (" 2H ", 7200)])
def test_parse_ttl(text, seconds):
    assert parse_ttl(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "-1h", "2 hours", "h", "1w"])
def test_parse_ttl_refuses_what_is_not_a_positive_duration(text):
    with pytest.raises(ValueError, match="not a duration"):
        parse_ttl(text)
