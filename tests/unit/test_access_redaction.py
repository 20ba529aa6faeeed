"""gateway/access/redaction.py: credentials blanked in whatever a logger writes."""

from __future__ import annotations

import logging

import jwt
import pytest

from babelstream.gateway.access.redaction import CredentialFilter, install_redaction, redact

KEY = "bsk_Zm9vYmFyYmF6cXV4cXV1eA-_0123"
TOKEN = jwt.encode({"aud": "babelstream", "exp": 9999999999}, "s" * 32, algorithm="HS256")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"/ws/audio?token={KEY}", "/ws/audio?token=[redacted]"),
        (f"/ws/audio?lang=en&token={TOKEN}&x=1", "/ws/audio?lang=en&token=[redacted]&x=1"),
        (f"/cb?access_token={TOKEN}", "/cb?access_token=[redacted]"),
        (f"Authorization: Bearer {KEY}", "Authorization: Bearer [redacted]"),
        (f"a key pasted as {KEY} somewhere", "a key pasted as [redacted] somewhere"),
        (f"token {TOKEN} in an error", "token [redacted] in an error"),
        # a secret of the operator's own making has neither our prefix nor a JWT's shape
        ("/ws/audio?token=my-own-secret&lang=en", "/ws/audio?token=[redacted]&lang=en"),
        ("/cb?access_token=my-own-secret", "/cb?access_token=[redacted]"),
        ("Authorization: bearer my-own-secret", "Authorization: bearer [redacted]"),
        ("/ws/audio?lang=en", "/ws/audio?lang=en"),
        ("tokens=3 bsk_", "tokens=3 bsk_"),
    ],
)
def test_redact(text, expected):
    assert redact(text) == expected


def test_the_filter_rewrites_message_and_arguments(caplog):
    logger = logging.getLogger("test.redaction")
    logger.addFilter(CredentialFilter())
    with caplog.at_level(logging.INFO, logger="test.redaction"):
        logger.info(f"upgrade with {KEY}")
        logger.info("%s - %s", "client", f"WebSocket /x?token={TOKEN}")
        logger.info("%(path)s", {"path": f"/metrics?token={KEY}"})
    assert KEY not in caplog.text and TOKEN not in caplog.text
    assert caplog.text.count("[redacted]") == 3


def test_install_redaction_is_idempotent():
    install_redaction(("test.idempotent",))
    install_redaction(("test.idempotent",))
    assert len(logging.getLogger("test.idempotent").filters) == 1
