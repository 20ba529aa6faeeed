"""The opening handshake of the native /ws/audio server: parsing the upgrade request, 101 or a refusal."""

from __future__ import annotations

import dataclasses

import pytest

from babelstream.gateway.websocket.handshake import (
    HandshakeRefused,
    UpgradeRequest,
    accept_key,
    http_response,
    parse_request_head,
    switching_protocols,
)

SAMPLE_KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 section 1.3
SAMPLE_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def upgrade(**overrides: str | None) -> UpgradeRequest:
    """A valid upgrade request as parse_request_head returns it; a header set to None is left out."""
    headers = {
        "host": "gateway.example",
        "upgrade": "websocket",
        "connection": "Upgrade",
        "sec-websocket-key": SAMPLE_KEY,
        "sec-websocket-version": "13",
    }
    method = overrides.pop("method", None) or "GET"
    for name, value in overrides.items():
        name = name.replace("_", "-")
        if value is None:
            headers.pop(name, None)
        else:
            headers[name] = value
    return UpgradeRequest(method, "/ws/audio", headers)


def status_and_headers(response: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = response.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    version, status, _ = status_line.split(" ", 2)
    assert version == "HTTP/1.1"
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status), headers, body


def refusal(request: UpgradeRequest) -> tuple[int, dict[str, str], bytes]:
    with pytest.raises(HandshakeRefused) as refused:
        switching_protocols(request)
    return status_and_headers(refused.value.response)


def test_accept_key_of_the_rfc_sample():
    assert accept_key(SAMPLE_KEY) == SAMPLE_ACCEPT


def test_request_head_with_repeated_headers_and_mixed_case_names():
    """Names are lower-cased; a repeated header's values are joined with ", " in order; the query is not the path."""
    head = (
        b"GET /ws/audio?lang=en HTTP/1.1\r\n"
        b"Host: gateway.example\r\n"
        b"UPGRADE: websocket\r\n"
        b"connection: keep-alive\r\n"
        b"CoNnEcTiOn:  Upgrade \r\n"
        b"Sec-WebSocket-Key: " + SAMPLE_KEY.encode() + b"\r\n"
        b"sec-websocket-VERSION: 13\r\n"
        b"Origin: http://good.example\r\n"
        b"\r\n"
    )
    request = parse_request_head(head)
    assert request.method == "GET"
    assert request.target == "/ws/audio?lang=en" and request.path == "/ws/audio"
    assert request.headers == {
        "host": "gateway.example",
        "upgrade": "websocket",
        "connection": "keep-alive, Upgrade",
        "sec-websocket-key": SAMPLE_KEY,
        "sec-websocket-version": "13",
        "origin": "http://good.example",
    }
    assert request.origin == "http://good.example"
    # The joined Connection header still carries the upgrade token.
    status, headers, _ = status_and_headers(switching_protocols(request))
    assert status == 101 and headers["sec-websocket-accept"] == SAMPLE_ACCEPT


def test_request_head_without_origin():
    request = parse_request_head(b"GET /ws/other HTTP/1.1\r\nhost: x\r\n\r\n")
    assert (request.path, request.origin) == ("/ws/other", None)


def test_101_answer_has_the_accept_key_and_no_extension_or_subprotocol():
    """The client may offer permessage-deflate and subprotocols: the server takes neither."""
    request = upgrade(
        connection="keep-alive, Upgrade",
        sec_websocket_extensions="permessage-deflate; client_max_window_bits",
        sec_websocket_protocol="chat, superchat",
    )
    response = switching_protocols(request, ((b"server", b"uvicorn"), (b"date", b"today")))
    assert response.endswith(b"\r\n\r\n") and response.count(b"\r\n\r\n") == 1
    status, headers, body = status_and_headers(response)
    assert status == 101 and body == b""
    assert response.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
    assert headers["upgrade"] == "websocket" and headers["connection"] == "Upgrade"
    assert headers["sec-websocket-accept"] == SAMPLE_ACCEPT
    assert headers["server"] == "uvicorn" and headers["date"] == "today"
    assert "sec-websocket-extensions" not in headers
    assert "sec-websocket-protocol" not in headers


@pytest.mark.parametrize("method", ["POST", "PUT", "get"])
def test_an_upgrade_that_is_not_a_get_is_refused_405(method):
    status, headers, body = refusal(upgrade(method=method))
    assert status == 405 and headers["allow"] == "GET"
    assert headers["connection"] == "close" and int(headers["content-length"]) == len(body)


@pytest.mark.parametrize(
    "overrides, reason_part",
    [
        ({"upgrade": None}, b"Upgrade: websocket"),
        ({"upgrade": "h2c"}, b"Upgrade: websocket"),
        ({"connection": None}, b"Connection: Upgrade"),
        ({"connection": "keep-alive"}, b"Connection: Upgrade"),
    ],
)
def test_missing_upgrade_or_connection_is_refused_400(overrides, reason_part):
    status, _, body = refusal(upgrade(**overrides))
    assert status == 400 and reason_part in body


def test_request_head_keeps_its_http_version():
    request = parse_request_head(b"GET /ws/audio HTTP/1.0\r\nhost: x\r\n\r\n")
    assert (request.target, request.http_version) == ("/ws/audio", "HTTP/1.0")


@pytest.mark.parametrize(
    "request_, reason_part",
    [
        (dataclasses.replace(upgrade(), http_version="HTTP/1.0"), b"HTTP/1.1"),  # RFC 6455 4.1: 1.1 at least
        (upgrade(host=None), b"Host"),
        (upgrade(host=""), b"Host"),
    ],
)
def test_an_upgrade_in_http_1_0_or_without_host_is_refused_400(request_, reason_part):
    status, _, body = refusal(request_)
    assert status == 400 and reason_part in body


@pytest.mark.parametrize("version", ["8", "12", "14", None])
def test_another_websocket_version_is_refused_426_naming_13(version):
    status, headers, _ = refusal(upgrade(sec_websocket_version=version))
    assert status == 426 and headers["sec-websocket-version"] == "13"


@pytest.mark.parametrize(
    "key",
    [
        None,  # missing
        "",
        "not base64 at all!!",
        "dGhlIHNhbXBsZSBub25jZQ",  # padding missing
        "dGhlIHNhbXBsZQ==",  # valid base64 of 10 bytes
        "dGhlIHNhbXBsZSBub25jZSE=",  # 17 bytes
        "dGhl*HNhbXBsZSBub25jZQ==",  # a character outside the alphabet
    ],
)
def test_a_key_that_is_not_16_bytes_of_base64_is_refused_400(key):
    status, _, body = refusal(upgrade(sec_websocket_key=key))
    assert status == 400 and b"Sec-WebSocket-Key" in body


def test_http_response_is_a_complete_message():
    status, headers, body = status_and_headers(http_response(404, "no such path", (("X-Why", "test"),)))
    assert (status, body) == (404, b"no such path\n")
    assert headers == {
        "content-type": "text/plain; charset=utf-8",
        "content-length": str(len(body)),
        "connection": "close",
        "x-why": "test",
    }
    assert http_response(426, "x").startswith(b"HTTP/1.1 426 Upgrade Required\r\n")
