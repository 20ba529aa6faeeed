"""babelstream.client against a real gateway (uvicorn, real sockets, the in-memory bus): the session's states,
typed messages, errors and close codes, pacing under the server's rate limit; and parsing on its own."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from babelstream.bus.memory import MemoryBus
from babelstream.client import (
    Ack,
    AudioConnection,
    Closed,
    ConnectFailed,
    ErrorMessage,
    InvalidState,
    Ready,
    Refused,
    Segment,
    Start,
    State,
    Summary,
    Unknown,
    WarningMessage,
)
from babelstream.client.messages import Audio, Connected, Translation, parse
from babelstream.client.pacing import Pacing, as_fast_as_allowed, send_paced
from babelstream.contracts.codec import SingleObjectCodec
from tests.support.harness import free_port, frames_of, running_gateway
from tests.support.speech import needs_espeak, silence, synthesize

CODEC = SingleObjectCodec()
TIMEOUT = 30


async def read_all(connection: AudioConnection) -> list:
    return [message async for message in connection.messages()]


@needs_espeak
async def test_a_live_session_from_connected_to_close_1000_in_typed_messages():
    pcm = silence(300) + synthesize("The house is big.") + silence(600) + synthesize("Good morning everyone.") + silence(600)
    async with running_gateway(MemoryBus(), CODEC, results_timeout_seconds=0.5) as (_, address):
        connection = await AudioConnection.open(f"ws://{address}/ws/audio")
        assert connection.state is State.STREAMING and connection.correlation_id
        async with connection:
            reader = asyncio.create_task(read_all(connection))
            await connection.send_start(Start(mode="live", targets=("es",), synthesize=False))
            sent = await connection.send_paced(frames_of(pcm), Pacing(640, 0.002, after_capture=False))
            await connection.send_done()
            assert connection.state is State.DRAINING
            messages = await asyncio.wait_for(reader, TIMEOUT)
    assert sent == len(frames_of(pcm))
    ready = messages[0]
    assert isinstance(ready, Ready) and ready.target_languages == ("es",) and ready.synthesize is False
    segments = [m for m in messages if isinstance(m, Segment)]
    assert [s.segment_index for s in segments] == [0, 1] and all(s.end_ms > s.start_ms for s in segments)
    ack = next(m for m in messages if isinstance(m, Ack))
    assert ack.correlation_id == connection.correlation_id and ack.segments == 2 and ack.received_bytes == len(pcm)
    # No stage runs here: the summary says which results never came, as typed fields.
    summary = messages[-1]
    assert isinstance(summary, Summary) and summary.complete is False and summary.missing_segments == (0, 1)
    assert all(m.received_at > 0 and m.data["type"] == m.type for m in messages)
    assert connection.close_code == 1000 and connection.state is State.CLOSED and connection.error is None


async def test_the_protocol_order_is_kept_on_the_client_before_the_server_sees_it():
    async with running_gateway(MemoryBus(), CODEC, default_mode="single", results_timeout_seconds=0.2) as (_, address):
        async with await AudioConnection.open(f"ws://{address}/ws/audio") as connection:
            await connection.send_audio(b"\0" * 640)
            with pytest.raises(InvalidState, match="before any audio"):
                await connection.send_start(Start(mode="single"))
            await connection.send_done()
            with pytest.raises(InvalidState, match="draining"):
                await connection.send_audio(b"\0" * 640)
            messages = await asyncio.wait_for(read_all(connection), TIMEOUT)
            assert isinstance(messages[0], Ack) and connection.close_code == 1000
            with pytest.raises(Closed):
                await connection.send_done()


async def test_a_server_error_is_a_typed_message_with_its_close_code_and_sends_then_raise_closed():
    async with running_gateway(MemoryBus(), CODEC) as (_, address):
        async with await AudioConnection.open(f"ws://{address}/ws/audio") as connection:
            await connection.send_raw('{"event": "start", "colour": "blue"}')  # an unknown start field: 1003
            messages = await asyncio.wait_for(read_all(connection), TIMEOUT)
            with pytest.raises(Closed) as closed:
                await connection.send_audio(b"\0" * 640)
    error = messages[-1]
    assert isinstance(error, ErrorMessage) and error.code == 1003 and "colour" in error.reason
    assert connection.error == error and connection.close_code == 1003 == closed.value.code
    assert error.kind == error.data.get("kind")  # exposed as the server sends it (None before it does)


async def test_as_fast_as_allowed_stays_under_the_rate_limit_that_unpaced_frames_trip():
    frames = [b"\0" * 640] * 240  # more than the default bucket of 200 messages
    async with running_gateway(MemoryBus(), CODEC, default_mode="single", results_timeout_seconds=0.2) as (_, address):
        async with await AudioConnection.open(f"ws://{address}/ws/audio") as flood:
            try:
                await send_paced(flood.send_audio, frames, Pacing(640, 0.0, after_capture=False))
                await flood.send_done()
            except Closed:
                pass
            await asyncio.wait_for(read_all(flood), TIMEOUT)
        async with await AudioConnection.open(f"ws://{address}/ws/audio") as paced:
            await send_paced(paced.send_audio, frames, as_fast_as_allowed())
            await paced.send_done()
            answered = await asyncio.wait_for(read_all(paced), TIMEOUT)
    assert flood.close_code == 1008 and flood.error is not None and flood.error.code == 1008
    assert paced.close_code == 1000 and paced.error is None and isinstance(answered[0], Ack)


async def test_capacity_refusal_is_refused_with_the_error_and_close_code():
    async with running_gateway(MemoryBus(), CODEC, max_connections=1) as (_, address):
        async with await AudioConnection.open(f"ws://{address}/ws/audio"):
            with pytest.raises(Refused) as refused:
                await AudioConnection.open(f"ws://{address}/ws/audio")
    assert refused.value.close_code == 1013 and refused.value.error.code == 1013
    assert "refused the session" in str(refused.value)


async def test_origin_refusal_and_no_server_and_a_wrong_path_say_why():
    async with running_gateway(MemoryBus(), CODEC, origin_allowlist=("http://good.example",)) as (_, address):
        with pytest.raises(Refused) as refused:
            await AudioConnection.open(f"ws://{address}/ws/audio", origin="http://evil.example")
        with pytest.raises(ConnectFailed, match="HTTP 403"):
            await AudioConnection.open(f"ws://{address}/ws/other")
    assert refused.value.close_code == 1008
    with pytest.raises(ConnectFailed, match="connection refused"):
        await AudioConnection.open(f"ws://127.0.0.1:{free_port()}/ws/audio")


# -- parsing, without a server -----------------------------------------------------------------------


def test_every_message_parses_to_its_record_and_keeps_what_it_does_not_know():
    connected = parse('{"status": "connected", "correlation_id": "c1"}')
    assert connected == Connected(correlation_id="c1")
    error = parse('{"type": "error", "code": 1008, "kind": "rate", "reason": "too many messages"}')
    assert isinstance(error, ErrorMessage) and (error.code, error.kind) == (1008, "rate")
    assert parse('{"type": "error", "code": 1009, "reason": "big"}').kind is None
    translation = parse('{"type": "translation", "segment_index": 2, "target_language": "es", "text": "Hola.", '
                        '"stage_ms": {"asr": 1.5}, "new_field": 1}', received_at=5.0)
    assert isinstance(translation, Translation) and translation.stage_ms == {"asr": 1.5}
    assert translation.data["new_field"] == 1 and translation.received_at == 5.0
    audio = parse('{"type": "audio", "segment_index": 0, "language": "es", "audio_b64": "UklGRg=="}')
    assert isinstance(audio, Audio) and audio.wav == b"RIFF"
    warning = parse('{"type": "warning", "code": "unsupported_pair", "reason": "no", "available": ["en-es"]}')
    assert isinstance(warning, WarningMessage) and warning.segment_index is None and warning.data["available"] == ["en-es"]
    assert isinstance(parse('{"type": "from_the_future"}'), Unknown)


def test_the_start_message_sends_only_what_was_set():
    assert Start().message() == {"event": "start"}
    assert Start(language="auto", targets=("es", "pt"), wait_for_results=False).message() == {
        "event": "start", "language": "auto", "targets": ["es", "pt"], "wait_for_results": False,
    }


async def test_stream_to_a_port_nobody_listens_on_is_a_clear_message(tmp_path, capsys):
    from types import SimpleNamespace

    from babelstream import wav
    from babelstream.clients import stream as stream_command

    path = tmp_path / "a.wav"
    path.write_bytes(wav.wrap_pcm16(b"\0" * 640, 16000))
    options = SimpleNamespace(file=str(path), to="", language=None, url=f"ws://127.0.0.1:{free_port()}/ws/audio",
                              fast=True, out=str(tmp_path / "out"), no_speech=True)
    assert await stream_command.stream_file(options) == 1
    assert "connection refused" in capsys.readouterr().err


async def test_resuming_gives_up_after_its_retries_with_growing_waits():
    import time

    from babelstream.client.messages import from_dict
    from babelstream.client.resume import Resumer

    resumer = Resumer(Start(), retries=2, first_backoff_seconds=0.05)
    resumer.observe(from_dict({"status": "connected", "correlation_id": "c-1", "resume_token": "v1.c-1.1.2.sig"}))
    began = time.monotonic()
    with pytest.raises(ConnectFailed, match="connection refused"):
        await resumer.reconnect([f"ws://127.0.0.1:{free_port()}/ws/audio"] * 2, audio_ms=0)
    assert time.monotonic() - began >= 0.05 + 0.1 + 0.2  # three attempts: 0.05 s, 0.1 s, 0.2 s before each
    assert not resumer.should_resume(SimpleNamespace(close_code=1006, error=None))
