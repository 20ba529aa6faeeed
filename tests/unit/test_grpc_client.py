"""babelstream.client.grpc_call: the gRPC door's messages as the records the WebSocket's JSON makes (client/messages.py),
and the config a Start becomes."""

from __future__ import annotations

import base64

from babelstream.client.grpc_call import as_record, config_of
from babelstream.client.messages import Audio, Connected, Start, Transcript
from babelstream.v1 import stream_pb2


def test_a_transcript_is_the_websockets_record_with_its_numbers_as_numbers():
    record = as_record("transcript", stream_pb2.Transcript(
        segment_index=0, text="Hi.", language="en", start_ms=0, end_ms=3_000_000_000, latency_ms=12.5,
        stage_ms={"asr": 3.0}, event_id="e"))
    assert isinstance(record, Transcript)
    assert (record.segment_index, record.start_ms, record.end_ms, record.text) == (0, 0, 3_000_000_000, "Hi.")
    assert record.data["type"] == "transcript" and record.data.get("confidence") is None  # unset: JSON's null


def test_the_spoken_wav_is_the_websockets_base64_and_connected_has_its_status():
    audio = as_record("audio", stream_pb2.SpokenAudio(language="es", audio_wav=b"RIFF", duration_ms=1505))
    assert isinstance(audio, Audio) and base64.b64decode(audio.data["audio_b64"]) == b"RIFF"
    assert audio.data["duration_ms"] == 1505
    connected = as_record("connected", stream_pb2.Connected(correlation_id="c"))
    assert isinstance(connected, Connected) and connected.data["status"] == "connected"


def test_a_start_becomes_a_config_with_unset_fields_left_unset_and_empty_targets_set():
    config = config_of(Start(language="en", targets=()))
    assert config.language == "en" and config.HasField("targets") and list(config.targets.languages) == []
    assert not config.HasField("mode") and not config_of(Start()).HasField("targets")
