"""Resume tokens: one session's, for one principal, until it expires; nothing else passes."""

from __future__ import annotations

import pytest

from babelstream.gateway.access.principal import ANONYMOUS, Method, Principal
from babelstream.gateway.gateway import resume_tokens
from babelstream.gateway.requests import ResumeRequest, StartRequest, parse_text_message
from babelstream.gateway.errors import Kind, SessionEnded
from babelstream.gateway.resume_token import ResumeRefused, ResumeTokens
from babelstream.gateway.settings import GatewaySettings

SECRET = b"k" * 32
ALICE = Principal(name="alice", method=Method.API_KEY)
NOW = 1_764_450_000.0


def token(tokens=None, session="session-1", principal=ALICE, started=NOW - 10, now=NOW) -> str:
    return (tokens or ResumeTokens(SECRET, 600)).issue(session, principal, started, now=now)


def test_a_token_resumes_its_session_for_its_principal_and_says_when_the_session_started():
    grant = ResumeTokens(SECRET, 600).verify(token(), "session-1", ALICE, now=NOW + 599)
    assert grant.correlation_id == "session-1" and grant.started_at == int(NOW - 10)


def test_another_gateway_with_the_same_secret_takes_it_and_one_with_another_does_not():
    issued = token(ResumeTokens(SECRET, 600))
    assert ResumeTokens(SECRET, 600).verify(issued, "session-1", ALICE, now=NOW).correlation_id == "session-1"
    with pytest.raises(ResumeRefused):
        ResumeTokens(b"x" * 32, 600).verify(issued, "session-1", ALICE, now=NOW)


def test_without_a_secret_each_process_has_its_own_key():
    one, other = ResumeTokens(None, 600), ResumeTokens(None, 600)
    issued = token(one)
    assert one.verify(issued, "session-1", ALICE, now=NOW)
    with pytest.raises(ResumeRefused):
        other.verify(issued, "session-1", ALICE, now=NOW)


def test_an_expired_token_is_refused_and_says_so():
    with pytest.raises(ResumeRefused, match="expired"):
        ResumeTokens(SECRET, 600).verify(token(), "session-1", ALICE, now=NOW + 601)


def test_another_sessions_token_is_refused():
    with pytest.raises(ResumeRefused):
        ResumeTokens(SECRET, 600).verify(token(session="session-2"), "session-1", ALICE, now=NOW)


def test_another_principals_token_is_refused():
    with pytest.raises(ResumeRefused):
        ResumeTokens(SECRET, 600).verify(token(principal=ANONYMOUS), "session-1", ALICE, now=NOW)
    with pytest.raises(ResumeRefused):
        ResumeTokens(SECRET, 600).verify(token(), "session-1", Principal(name="alice", method=Method.JWT), now=NOW)


@pytest.mark.parametrize("forge", [
    lambda t: t.replace("session-1", "session-2"),  # the same signature on another session
    lambda t: ".".join(t.split(".")[:3] + [str(int(NOW) + 10**6)] + t.split(".")[4:]),  # a later expiry
    lambda t: ".".join(t.split(".")[:2] + ["0"] + t.split(".")[3:]),  # an earlier start (longer limits)
    lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # a changed signature
    lambda t: t.rsplit(".", 1)[0] + ".",  # no signature
    lambda t: "v2" + t[2:],
    lambda t: "",
    lambda t: None,
    lambda t: t + "." * 300,
])
def test_a_forged_token_is_refused(forge):
    forged = forge(token())
    session = "session-2" if forged and "session-2" in forged else "session-1"
    with pytest.raises(ResumeRefused):
        ResumeTokens(SECRET, 600).verify(forged, session, ALICE, now=NOW)


def test_tokens_are_unguessable_and_differ_per_session():
    tokens = ResumeTokens(SECRET, 600)
    signatures = {token(tokens, session=f"s{i}").rsplit(".", 1)[1] for i in range(100)}
    assert len(signatures) == 100 and all(len(s) == 43 for s in signatures)  # 256 bits, base64url


def test_a_token_lasts_as_long_as_the_longest_session_and_the_ttl_more():
    settings = GatewaySettings(max_session_seconds=60, room_speaker_max_seconds=3600, max_batch_audio_seconds=600,
                               resume_ttl_seconds=120, resume_secret="s" * 32)
    assert resume_tokens(settings).valid_seconds == 3720


def test_a_short_resume_secret_is_refused():
    with pytest.raises(ValueError, match="32 bytes"):
        GatewaySettings(resume_secret="short")


def test_the_resume_message_is_parsed_with_its_start_fields():
    request = parse_text_message(
        '{"event":"resume","correlation_id":"c","resume_token":"t","audio_ms":9200,"received":["e1"],'
        '"language":"en","targets":["es"]}'
    )
    assert request == ResumeRequest("c", "t", StartRequest(source_language="en", target_languages=("es",)), 9200,
                                    frozenset({"e1"}))


@pytest.mark.parametrize("message", [
    '{"event":"resume","resume_token":"t"}',
    '{"event":"resume","correlation_id":"c"}',
    '{"event":"resume","correlation_id":"c","resume_token":"t","audio_ms":-1}',
    '{"event":"resume","correlation_id":"c","resume_token":"t","audio_ms":1.5}',
    '{"event":"resume","correlation_id":"c","resume_token":"t","received":"e1"}',
    '{"event":"resume","correlation_id":"c","resume_token":"t","mode":"single"}',
    '{"event":"resume","correlation_id":"c","resume_token":"t","colour":"red"}',
])
def test_a_bad_resume_message_is_malformed(message):
    with pytest.raises(SessionEnded) as refused:
        parse_text_message(message)
    assert refused.value.kind is Kind.MALFORMED
