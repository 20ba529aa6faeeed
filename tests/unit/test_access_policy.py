"""gateway/access/policy.py: the rule built from settings, its refusals, rooms and roles, the start-up rule."""

from __future__ import annotations

import hashlib
import logging
import time

import jwt
import pytest

from babelstream.gateway.access import (
    ANONYMOUS, AccessConfigError, AccessPolicy, InsecureBinding, Method, Principal, Refusal, RefusalKind, Role,
    is_loopback, require_credentials_for,
)
from babelstream.gateway.settings import GatewaySettings

SECRET = "a-shared-secret-of-at-least-32-bytes!!"
KEY = "bsk_the-key-of-alice-0123456789"


def settings(**fields) -> GatewaySettings:
    base = {"api_keys_file": None, "jwt_secret": None, "jwt_public_key": None, "jwt_audience": "babelstream"}
    return GatewaySettings(**{**base, **fields})


@pytest.fixture
def key_file(tmp_path):
    path = tmp_path / "keys"
    path.write_text(f"alice:{hashlib.sha256(KEY.encode()).hexdigest()}\n")
    return path


@pytest.fixture
def policy(key_file) -> AccessPolicy:
    return AccessPolicy.from_settings(settings(api_keys_file=key_file, jwt_secret=SECRET))


def token(**claims) -> str:
    return jwt.encode({"aud": "babelstream", "exp": int(time.time()) + 86_400, **claims}, SECRET, algorithm="HS256")


def test_auth_is_off_without_credentials_configured():
    policy = AccessPolicy.from_settings(settings())
    assert not policy.enabled
    assert policy.check([], b"") is ANONYMOUS
    assert policy.check({"authorization": "Bearer whatever"}, b"") is ANONYMOUS


@pytest.mark.parametrize("fields", [{"jwt_secret": SECRET}, {"api_keys_file": "KEYS"}])
def test_auth_is_on_with_any_credential_source(fields, key_file):
    if fields.get("api_keys_file") == "KEYS":
        fields = {"api_keys_file": key_file}
    assert AccessPolicy.from_settings(settings(**fields)).enabled


def test_an_api_key_in_the_header_or_the_query(policy):
    expected = Principal(name="alice", method=Method.API_KEY)
    assert policy.check([(b"authorization", f"Bearer {KEY}".encode())], b"") == expected
    assert policy.check({}, f"token={KEY}") == expected


def test_a_token_names_its_subject_and_restrictions(policy):
    principal = policy.check({}, f"token={token(sub='bob', room='r1', role='listener')}".encode())
    assert isinstance(principal, Principal)
    assert (principal.name, principal.method, principal.room, principal.role) == ("bob", Method.JWT, "r1",
                                                                                  Role.LISTENER)


@pytest.mark.parametrize(
    ("headers", "query", "reason"),
    [
        ({}, "", "this server requires a credential: send `Authorization: Bearer <key or token>` or `?token=`"),
        ({}, "token=bsk_not-a-key-we-know", "the API key is not known (revoked, or mistyped)"),
        ({}, f"token={token(exp=int(time.time()) - 3600)}", "the token has expired"),
        ({}, f"token={token(aud='elsewhere')}",
         "the token is not for this server (its audience must be 'babelstream')"),
        ({"authorization": f"Basic {KEY}"}, "", "the Authorization header must use the Bearer scheme"),
    ],
)
def test_refusals_are_unauthenticated_with_a_reason_that_never_echoes_the_secret(
    policy, headers, query, reason, caplog
):
    with caplog.at_level(logging.DEBUG):
        refusal = policy.check(headers, query)
    assert refusal == Refusal(RefusalKind.UNAUTHENTICATED, reason, credential_presented=bool(headers or query))
    assert refusal.http_status == 401
    secret = query.partition("=")[2] or KEY
    assert secret not in refusal.reason
    assert secret not in caplog.text
    assert reason in caplog.text  # the refusal is logged, for the operator


def test_a_credential_of_a_kind_the_server_does_not_accept(key_file):
    keys_only = AccessPolicy.from_settings(settings(api_keys_file=key_file))
    assert keys_only.check({}, f"token={token()}").reason == "this server accepts API keys, not tokens"
    tokens_only = AccessPolicy.from_settings(settings(jwt_secret=SECRET))
    assert tokens_only.check({}, f"token={KEY}").reason == "this server accepts tokens (JWT), not API keys"


def test_accepted_credentials_reach_the_log_by_name_only(policy, caplog):
    with caplog.at_level(logging.DEBUG):
        policy.check({}, f"token={KEY}")
        minted = token(sub="bob")
        policy.check({"authorization": f"Bearer {minted}"}, "")
    assert "alice" in caplog.text and "bob" in caplog.text
    assert KEY not in caplog.text and minted not in caplog.text


def test_rooms_and_roles():
    speaker_in_r1 = Principal("s", Method.JWT, room="r1", role=Role.SPEAKER)
    listener_in_r1 = Principal("l", Method.JWT, room="r1", role=Role.LISTENER)
    policy = AccessPolicy()
    assert policy.authorize(speaker_in_r1, room="r1", role=Role.SPEAKER) is None
    assert policy.authorize(speaker_in_r1, room="r1", role=Role.LISTENER) is None  # a speaker may listen
    assert policy.authorize(listener_in_r1, room="r1", role=Role.LISTENER) is None
    refusal = policy.authorize(listener_in_r1, room="r1", role=Role.SPEAKER)
    assert refusal == Refusal(RefusalKind.FORBIDDEN, "this credential allows the listener role only, not speaker",
                              credential_presented=True)
    assert refusal.http_status == 403
    assert policy.authorize(speaker_in_r1, room="r2").reason == "this credential is for another room"
    unrestricted = Principal("alice", Method.API_KEY)
    assert policy.authorize(unrestricted, room="any", role=Role.SPEAKER) is None
    assert policy.authorize(ANONYMOUS, room="any", role=Role.SPEAKER) is None


def test_a_configuration_mistake_stops_the_start(tmp_path):
    (tmp_path / "keys").write_text("alice\n")
    with pytest.raises(AccessConfigError, match="line 1"):
        AccessPolicy.from_settings(settings(api_keys_file=tmp_path / "keys"))
    with pytest.raises(AccessConfigError, match="32 bytes"):
        AccessPolicy.from_settings(settings(jwt_secret="short"))


def test_the_jwt_secret_never_appears_in_a_settings_repr():
    configured = settings(jwt_secret=SECRET)
    assert SECRET not in repr(configured) and SECRET not in str(configured)
    assert SECRET not in str(configured.model_dump())
    assert configured.jwt_secret.get_secret_value() == SECRET


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.8.9.1", True), ("::1", True), ("[::1]", True), ("localhost", True),
     ("LOCALHOST.", True), ("app.localhost", True), ("::ffff:127.0.0.1", True), ("0.0.0.0", False), ("::", False),
     ("192.168.1.5", False), ("gateway.example", False), ("", False), ("localhost.example", False)],
)
def test_is_loopback(host, loopback):
    assert is_loopback(host) is loopback


def test_the_start_up_rule(key_file, caplog):
    require_credentials_for(settings(host="127.0.0.1"), insecure=False)  # loopback: auth may be off
    require_credentials_for(settings(host="0.0.0.0", jwt_secret=SECRET), insecure=False)
    require_credentials_for(settings(host="0.0.0.0", api_keys_file=key_file), insecure=False)
    with pytest.raises(InsecureBinding) as refused:
        require_credentials_for(settings(host="0.0.0.0"), insecure=False)
    message = str(refused.value)
    assert "0.0.0.0" in message
    for advice in ("API_KEYS_FILE", "babelstream keys add", "JWT_SECRET", "JWT_PUBLIC_KEY", "--insecure"):
        assert advice in message
    with caplog.at_level(logging.WARNING):
        require_credentials_for(settings(host="0.0.0.0"), insecure=True)
    assert "--insecure" in caplog.text


def test_admit_checks_the_origin_first_then_the_credential(policy):
    from babelstream.gateway.access import admit

    def upgrade(headers, query=""):
        return admit(policy, headers={"host": "127.0.0.1:8000", **headers}, query_string=query, scheme="ws",
                     allowlist=(), bound_host="127.0.0.1")

    assert upgrade({"origin": "http://127.0.0.1:8000"}, f"token={KEY}") == Principal("alice", Method.API_KEY)
    assert upgrade({}, f"token={KEY}").name == "alice"  # no Origin: not a browser
    assert upgrade({"origin": "https://evil.example"}, f"token={KEY}").kind is RefusalKind.ORIGIN
    assert upgrade({"origin": "http://127.0.0.1:8000"}).kind is RefusalKind.UNAUTHENTICATED
    raw = admit(policy, headers=[(b"host", b"localhost:8000"), (b"authorization", f"Bearer {KEY}".encode())],
                query_string=b"", scheme="http", allowlist=(), bound_host="127.0.0.1")
    assert raw.name == "alice"
