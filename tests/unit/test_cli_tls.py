"""`serve`/`gateway --ssl-certfile --ssl-keyfile`: the options reach the gateway's settings (over SSL_CERTFILE and
SSL_KEYFILE), and a key without its certificate stops the start. Served over TLS for real: test_tls.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from babelstream.cli import main

VARIABLES = ("API_KEYS_FILE", "JWT_SECRET", "JWT_PUBLIC_KEY", "HOST", "SSL_CERTFILE", "SSL_KEYFILE")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def served(monkeypatch) -> list:
    """The settings `serve` would have served with, instead of serving."""
    import babelstream.platform as platform

    started: list = []
    monkeypatch.setattr(platform, "Platform", lambda settings, **_: settings)
    monkeypatch.setattr(platform, "serve_http", started.append)
    return started


def test_the_tls_options_reach_the_gateways_settings(served):
    assert main(["serve", "--ssl-certfile", "/etc/bs/cert.pem", "--ssl-keyfile", "/etc/bs/key.pem"]) == 0
    [settings] = served
    assert (settings.gateway.ssl_certfile, settings.gateway.ssl_keyfile) == (
        Path("/etc/bs/cert.pem"), Path("/etc/bs/key.pem")
    )


def test_the_options_win_over_the_environment_and_without_either_it_is_plain_http(served, monkeypatch):
    monkeypatch.setenv("SSL_CERTFILE", "/env/cert.pem")
    assert main(["serve", "--ssl-certfile", "/cli/cert.pem"]) == 0
    monkeypatch.delenv("SSL_CERTFILE")
    assert main(["serve"]) == 0
    assert [(s.gateway.ssl_certfile, s.gateway.ssl_keyfile) for s in served] == [
        (Path("/cli/cert.pem"), None), (None, None)
    ]


@pytest.mark.parametrize("command", ["serve", "gateway"])
def test_a_key_without_its_certificate_is_refused_before_anything_starts(served, capsys, command):
    argv = [command, "--ssl-keyfile", "/etc/bs/key.pem"] + (["--kafka", "127.0.0.1:1"] if command == "gateway" else [])
    assert main(argv) == 2
    assert "--ssl-certfile" in capsys.readouterr().err
    assert served == []
