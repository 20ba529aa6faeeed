"""`babelstream keys` and `babelstream token`, and the start-up rule of `serve`/`gateway`, run as main([...])."""

from __future__ import annotations

import hashlib
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from babelstream.cli import main
from babelstream.gateway.access.api_keys import ApiKeys

SECRET = "a-shared-secret-of-at-least-32-bytes!!"
ACCESS_VARIABLES = ("API_KEYS_FILE", "JWT_SECRET", "JWT_PUBLIC_KEY", "JWT_AUDIENCE", "HOST")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in ACCESS_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_keys_add_prints_the_secret_once_and_stores_its_hash(tmp_path, capsys, monkeypatch):
    path = tmp_path / "keys"
    monkeypatch.setenv("API_KEYS_FILE", str(path))
    code, out, err = run(capsys, "keys", "add", "alice")
    assert code == 0
    secret = out.strip()
    assert secret.startswith("bsk_") and "\n" not in secret  # stdout is the secret alone: scriptable
    assert "shown only this once" in err
    assert path.read_text() == f"alice:{hashlib.sha256(secret.encode()).hexdigest()}\n"
    assert secret not in path.read_text()
    assert ApiKeys(path).lookup(secret) == "alice"


def test_keys_list_and_remove_with_file(tmp_path, capsys):
    path = tmp_path / "team.keys"
    assert run(capsys, "keys", "add", "alice", "--file", str(path))[0] == 0
    assert run(capsys, "keys", "add", "bob", "--file", str(path))[0] == 0
    code, out, _ = run(capsys, "keys", "list", "--file", str(path))
    assert (code, out) == (0, "alice\nbob\n")
    assert run(capsys, "keys", "remove", "alice", "--file", str(path))[0] == 0
    assert run(capsys, "keys", "list", "--file", str(path))[1] == "bob\n"


def test_keys_refuses_a_duplicate_name_an_unknown_one_and_a_missing_file_setting(tmp_path, capsys):
    path = tmp_path / "keys"
    run(capsys, "keys", "add", "alice", "--file", str(path))
    before = path.read_text()
    code, out, err = run(capsys, "keys", "add", "alice", "--file", str(path))
    assert (code, out) == (1, "")
    assert "already has a key named 'alice'" in err
    assert path.read_text() == before
    code, _, err = run(capsys, "keys", "remove", "carol", "--file", str(path))
    assert code == 1 and "no key named 'carol'" in err
    code, _, err = run(capsys, "keys", "add", "alice")
    assert code == 2 and "set API_KEYS_FILE" in err


def test_token_mints_what_the_server_accepts(capsys, monkeypatch):
    monkeypatch.setenv("JWT_SECRET", SECRET)
    code, out, err = run(capsys, "token", "--room", "R", "--role", "listener", "--ttl", "2h", "--subject", "ann")
    assert code == 0
    token = out.strip()
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], audience="babelstream")
    assert (claims["room"], claims["role"], claims["sub"]) == ("R", "listener", "ann")
    assert claims["exp"] - claims["iat"] == 7200 and abs(claims["iat"] - time.time()) < 5
    assert "Valid until" in err and SECRET not in err + out


def test_token_audience_follows_the_setting(capsys, monkeypatch):
    monkeypatch.setenv("JWT_SECRET", SECRET)
    monkeypatch.setenv("JWT_AUDIENCE", "meetings")
    token = run(capsys, "token")[1].strip()
    assert jwt.decode(token, SECRET, algorithms=["HS256"], audience="meetings")["sub"] == "babelstream-cli"


def test_token_with_a_private_key_is_checked_against_jwt_public_key(tmp_path, capsys, monkeypatch):
    issuer = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "issuer.pem").write_bytes(issuer.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    public = issuer.public_key().public_bytes(serialization.Encoding.PEM,
                                              serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    monkeypatch.setenv("JWT_PUBLIC_KEY", public)
    code, out, _ = run(capsys, "token", "--private-key", str(tmp_path / "issuer.pem"), "--ttl", "30m")
    assert code == 0
    assert jwt.get_unverified_header(out.strip())["alg"] == "ES256"
    assert jwt.decode(out.strip(), issuer.public_key(), algorithms=["ES256"], audience="babelstream")

    other = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "other.pem").write_bytes(other.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    code, out, err = run(capsys, "token", "--private-key", str(tmp_path / "other.pem"))
    assert (code, out) == (1, "")
    assert "signature does not verify" in err


@pytest.mark.parametrize(
    ("argv", "environment", "code", "complaint"),
    [
        (("token",), {}, 2, "set JWT_SECRET"),
        (("token", "--ttl", "forever"), {"JWT_SECRET": SECRET}, 2, "not a duration"),
        (("token",), {"JWT_SECRET": "short"}, 1, "at least 32 bytes"),
    ],
)
def test_token_errors(capsys, monkeypatch, argv, environment, code, complaint):
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    result, out, err = run(capsys, *argv)
    assert (result, out) == (code, "")
    assert complaint in err


@pytest.mark.parametrize("command", ["serve", "gateway"])
def test_a_public_address_without_credentials_is_refused_before_anything_starts(capsys, command):
    argv = [command, "--host", "0.0.0.0"] + (["--kafka", "127.0.0.1:1"] if command == "gateway" else [])
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert "refusing to listen on 0.0.0.0" in err and "--insecure" in err and "API_KEYS_FILE" in err


@pytest.mark.parametrize(
    ("argv", "environment"),
    [(("--host", "0.0.0.0", "--insecure"), {}), (("--host", "0.0.0.0"), {"JWT_SECRET": SECRET}),
     ((), {})],
)
def test_serve_starts_with_credentials_with_insecure_or_on_loopback(capsys, monkeypatch, argv, environment):
    import babelstream.platform as platform

    started = []
    monkeypatch.setattr(platform, "Platform", lambda settings, **_: settings)
    monkeypatch.setattr(platform, "serve_http", started.append)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert run(capsys, "serve", *argv)[0] == 0
    assert [settings.gateway.host for settings in started] == [argv[1] if argv else "127.0.0.1"]
