"""gateway/access/credentials.py: the credential from the Authorization header or ?token=, and its kind."""

from __future__ import annotations

import pytest

from babelstream.gateway.access.credentials import (
    Credential, CredentialError, CredentialKind, classify, extract_credential,
)

KEY = "bsk_Zm9vYmFyYmF6cXV4cXV1eA-_"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJhdWQiOiJiIn0.c2lnbmF0dXJl"


@pytest.mark.parametrize(
    "headers",
    [
        [(b"authorization", f"Bearer {KEY}".encode())],  # an ASGI scope's raw list
        [(b"Authorization", f"bearer   {KEY} ".encode())],  # any case, extra spaces
        {"authorization": f"Bearer {KEY}"},  # the native WebSocket's parsed head
    ],
)
def test_the_bearer_header(headers):
    assert extract_credential(headers, b"") == Credential(CredentialKind.API_KEY, KEY)


@pytest.mark.parametrize("query", [f"token={JWT}".encode(), f"lang=en&token={JWT}", f"token={JWT}&token={JWT}"])
def test_the_query_parameter(query):
    assert extract_credential([], query) == Credential(CredentialKind.JWT, JWT)


def test_a_percent_encoded_query_token_is_decoded():
    assert extract_credential({}, "token=bsk_a%2Bb").secret == "bsk_a+b"


def test_no_credential():
    assert extract_credential([(b"host", b"x")], b"lang=en") is None
    assert extract_credential({}, "") is None


def test_the_same_credential_in_both_places_is_fine_different_ones_are_refused():
    assert extract_credential({"authorization": f"Bearer {KEY}"}, f"token={KEY}").secret == KEY
    with pytest.raises(CredentialError, match="different credentials"):
        extract_credential({"authorization": f"Bearer {KEY}"}, f"token={JWT}")


@pytest.mark.parametrize(
    ("headers", "query", "complaint"),
    [
        ({"authorization": f"Basic {KEY}"}, "", "Bearer scheme"),
        ({"authorization": "Bearer"}, "", "no credential after Bearer"),
        ({"authorization": f"Bearer {KEY}, Bearer {JWT}"}, "", "one Authorization header"),
        ([(b"authorization", f"Bearer {KEY}".encode()), (b"authorization", f"Bearer {JWT}".encode())], "",
         "one Authorization header"),
        ({}, f"token={KEY}&token={JWT}", "one token= parameter"),
        ({}, "token=", "empty"),
        ({}, "token=bsk_" + "a" * 9000, "longer than"),
    ],
)
def test_unreadable_credentials_are_refused_without_echoing_them(headers, query, complaint):
    with pytest.raises(CredentialError) as raised:
        extract_credential(headers, query)
    assert complaint in str(raised.value)
    assert KEY not in str(raised.value) and JWT not in str(raised.value)


def test_classify_and_repr_hides_the_secret():
    assert classify(JWT) is CredentialKind.JWT
    assert classify(KEY) is CredentialKind.API_KEY
    assert classify("a.b") is CredentialKind.API_KEY  # one dot: not a JWT
    assert classify("my-own-secret") is CredentialKind.API_KEY
    assert KEY not in repr(Credential(CredentialKind.API_KEY, KEY))
