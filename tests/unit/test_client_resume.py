"""What the client keeps to resume its session, when it resumes, and the bounded, backed-off reconnection."""

from __future__ import annotations

import json
import uuid
from types import SimpleNamespace

import pytest

from babelstream.client.messages import Start, from_dict
from babelstream.client.resume import RECEIVED_REMEMBERED, Resumer


def fed(resumer: Resumer, *messages: dict) -> Resumer:
    for message in messages:
        resumer.observe(from_dict(message))
    return resumer


CONNECTED = {"status": "connected", "correlation_id": "c-1", "resume_token": "v1.c-1.1.2.sig"}


def test_it_keeps_the_session_the_token_the_last_segments_end_and_the_results_received():
    resumer = fed(
        Resumer(Start(language="en", targets=("es",))), CONNECTED,
        {"type": "segment", "segment_index": 0, "start_ms": 100, "end_ms": 1600, "event_id": "s0"},
        {"type": "transcript", "segment_index": 0, "event_id": "t0"},
        {"type": "translation", "segment_index": 0, "event_id": "x0"},
        {"type": "partial", "segment_index": 1, "start_ms": 2400, "audio_ms": 3000},
    )
    assert json.loads(resumer.message(audio_ms=1600)) == {
        "event": "resume", "correlation_id": "c-1", "resume_token": "v1.c-1.1.2.sig", "audio_ms": 1600,
        "received": ["t0", "x0"], "language": "en", "targets": ["es"],
    }
    assert resumer.audio_ms == 1600
    # A resumed session's token replaces the first; its own `connected` (a new id) does not.
    fed(resumer, {"status": "connected", "correlation_id": "c-2", "resume_token": "v1.c-2.1.2.other"},
        {"type": "resumed", "correlation_id": "c-1", "resume_token": "v1.c-1.1.9.new", "published_ms": 2900})
    assert (resumer.correlation_id, resumer.token, resumer.audio_ms) == ("c-1", "v1.c-1.1.9.new", 2900)


def test_the_results_it_lists_are_bounded():
    resumer = fed(Resumer(Start()), CONNECTED, *[{"type": "transcript", "event_id": f"t{i}"} for i in range(3000)])
    assert len(resumer.received) == RECEIVED_REMEMBERED and resumer.received[-1] == "t2999"


def test_a_resume_listing_as_many_results_as_the_server_takes_fits_one_message_the_server_reads():
    from babelstream.gateway.requests import MAX_RESUME_RECEIVED, parse_resume
    from babelstream.gateway.settings import GatewaySettings

    connected = {**CONNECTED, "correlation_id": str(uuid.uuid4()), "resume_token": "v1." + "x" * 120}
    ids = [{"type": "transcript", "event_id": str(uuid.uuid4())} for _ in range(3000)]
    message = fed(Resumer(Start(language="en", targets=("es", "pt"))), connected, *ids).message(audio_ms=14_400_000)
    assert RECEIVED_REMEMBERED == MAX_RESUME_RECEIVED  # the client lists all the server takes, no more
    assert len(message.encode()) <= GatewaySettings().max_chunk_bytes
    assert len(parse_resume(json.loads(message)).received) == MAX_RESUME_RECEIVED


@pytest.mark.parametrize(("close_code", "error_kind", "resumes"), [
    (1006, None, True),  # the socket died: no close frame
    (None, None, True),
    (1012, "shutdown", True),
    (1013, "pipeline_unavailable", True),
    (1000, None, False),  # the summary came
    (1008, "resume_refused", False),
    (1008, "rate", False),
    (1013, "capacity", False),
])
def test_it_resumes_after_a_dead_connection_not_after_an_end_or_an_error_about_the_session(close_code, error_kind,
                                                                                             resumes):
    connection = SimpleNamespace(close_code=close_code,
                                 error=None if error_kind is None else SimpleNamespace(kind=error_kind))
    assert fed(Resumer(Start()), CONNECTED).should_resume(connection) is resumes
    assert Resumer(Start()).should_resume(connection) is False  # no token: a server that cannot resume


def test_a_resume_listing_more_results_than_the_server_takes_is_refused_as_malformed():
    from babelstream.gateway.errors import Kind, SessionEnded
    from babelstream.gateway.requests import MAX_RESUME_RECEIVED, parse_resume

    message = {"event": "resume", "correlation_id": "c-1", "resume_token": "v1.c-1.1.2.sig", "audio_ms": 0,
               "received": [str(uuid.uuid4()) for _ in range(MAX_RESUME_RECEIVED + 1)]}
    with pytest.raises(SessionEnded) as refused:
        parse_resume(message)
    assert refused.value.code == 1003 and refused.value.kind == Kind.MALFORMED
    assert f"at most {MAX_RESUME_RECEIVED} event ids" in str(refused.value.reason)
