"""Every message the server sends to a client, built here and only here.

docs/protocol.md documents each of them for client developers; tests/unit/test_protocol_document.py keeps the
document and this module in step, both ways. Errors and warnings carry a stable `kind` (errors.Kind): clients
switch on it and show `reason`, which is for people and may be reworded.
"""

from __future__ import annotations

import base64
import json
import math

from babelstream.contracts.events import (
    AudioSynthesisPayload,
    Event,
    PartialTranscriptPayload,
    PartialTranslationPayload,
    SessionOptions,
    TextRecognizedPayload,
    TextTranslatedPayload,
    utc_now,
)
from babelstream.gateway.errors import Kind, SessionEnded
from babelstream.gateway.stream_limits import StreamLimits

# Every `type` the server can send (`connected` is the one message without a type: it has `status`).
TYPES = (
    "ready", "warning", "segment", "partial", "partial_translation", "transcript", "translation", "audio", "ack",
    "summary", "error", "listening", "audience", "resumed",
)


def encode(message: dict) -> str:
    """A server message as it goes on the wire: compact JSON, one text frame. allow_nan=False: NaN or Infinity
    would be invalid JSON for every client; a builder that lets one through fails here, in its tests."""
    return json.dumps(message, separators=(",", ":"), allow_nan=False)


def connected(correlation_id: str, **extra) -> dict:
    """`extra`: a speaker's `resume_token` (what a resume presents), or a listener's (/ws/listen) `room`."""
    return {"status": "connected", "correlation_id": correlation_id, **extra}


def resumed(correlation_id: str, resume_token: str, *, next_segment: int, published_ms: int, audio_ms: int,
            replayed: int) -> dict:
    """A resume was accepted: the session is `correlation_id` again (not the one `connected` named). `published_ms`:
    where the audio published before ends; `audio_ms`: where on the session's timeline the audio sent from now
    on is taken to begin; `replayed`: results sent again, which follow."""
    return {
        "type": "resumed",
        "correlation_id": correlation_id,
        "resume_token": resume_token,
        "next_segment": next_segment,
        "published_ms": published_ms,
        "audio_ms": audio_ms,
        "replayed": replayed,
    }


def listening(room: str, language: str, *, voice: bool, audio: str, partials: bool, history: int) -> dict:
    """A listener's language is set (at connect, or changed by a listen message); `history` messages follow.
    `audio`: how its spoken translations come (opus, wav: binary frames; json: base64 in the audio message).
    `partials`: whether it gets the interim results its room's speakers make."""
    return {"type": "listening", "room": room, "language": language, "voice": voice, "audio": audio,
            "partials": partials, "history": history}


def audience(room: str, *, languages: dict[str, int], speakers: int) -> dict:
    """Who is in a room, on every gateway: sent to its speakers when it changes (at most once a second)."""
    return {
        "type": "audience",
        "room": room,
        "listeners": sum(languages.values()),
        "languages": dict(sorted(languages.items())),
        "speakers": speakers,
    }


def ready(
    mode: str, sample_rate_hz: int, options: SessionOptions, limits: StreamLimits, max_seconds: float,
    *, partials: bool = False, translate_partials: bool = False,
) -> dict:
    """`limits`: what this session may send, so a client can pace itself instead of finding out by a close."""
    return {
        "room": options.room,
        "type": "ready",
        "mode": mode,
        "sample_rate_hz": sample_rate_hz,
        "source_language": options.source_language,
        "target_languages": list(options.target_languages),
        "synthesize": options.synthesize,
        "partials": partials,
        "translate_partials": translate_partials,
        "limits": {
            "max_messages_per_second": limits.messages_per_second,
            "max_audio_speed": limits.audio_speed,
            "max_audio_burst_seconds": limits.audio_burst_seconds,
            "max_session_seconds": max_seconds,
        },
    }


def error(ended: SessionEnded) -> dict:
    return {"type": "error", "code": ended.code, "kind": str(ended.kind), "reason": ended.reason, **ended.details}


def warning(kind: Kind, reason: str, **details) -> dict:
    # `code` repeats the kind: the first clients read warnings by `code`, before errors had a kind.
    return {"type": "warning", "kind": str(kind), "code": str(kind), "reason": reason, **details}


def segment(index: int, start_ms: int, end_ms: int, event_id: str) -> dict:
    return {"type": "segment", "segment_index": index, "start_ms": start_ms, "end_ms": end_ms, "event_id": event_id}


def partial(payload: PartialTranscriptPayload) -> dict:
    """An interim result for an utterance still being spoken: `stable_text` only grows (docs/protocol.md)."""
    return {
        "type": "partial",
        "segment_index": payload.segment_index,
        "stable_text": payload.stable_text,
        "unstable_text": payload.unstable_text,
        "language": payload.language,
        "start_ms": payload.start_ms,
        "audio_ms": payload.end_ms,
    }


def partial_translation(payload: PartialTranslationPayload) -> dict:
    """An utterance still being spoken: its stable text so far, translated; the `translation` replaces it."""
    return {
        "type": "partial_translation",
        "segment_index": payload.segment_index,
        "language": payload.target_language,
        "text": payload.text,
        "source_text": payload.source_text,
        "start_ms": payload.start_ms,
        "audio_ms": payload.end_ms,
    }


def ack(correlation_id: str, event_ids: list[str], *, live: bool, received_bytes: int,
        segments: int | None = None) -> dict:
    """`event_ids`: the newest 1,000 at most (a talk of hours cuts more); `segments` counts them all."""
    return {
        "type": "ack",
        "correlation_id": correlation_id,
        "event_id": event_ids[-1] if event_ids else None,
        "event_ids": event_ids,
        "segments": (len(event_ids) if segments is None else segments) if live else None,
        "received_bytes": received_bytes,
    }


def summary(correlation_id: str, *, complete: bool, segments: int, counts: dict, missing: list[int]) -> dict:
    return {
        "type": "summary",
        "correlation_id": correlation_id,
        "complete": complete,
        "segments": segments,
        **counts,
        "missing_segments": missing,
    }


def stage_breakdown(event: Event) -> dict[str, float]:
    """Milliseconds each stage spent, plus the time spent between stages on the bus."""
    stages: dict[str, float] = {}
    bus_ms = 0.0
    previous = None
    for hop in event.timings:
        stages[hop.stage] = round(stages.get(hop.stage, 0.0) + hop.duration_ms, 2)
        if previous is not None:
            bus_ms += (hop.started_at - previous.finished_at).total_seconds() * 1000
        previous = hop
    stages["bus"] = round(bus_ms, 2)
    return stages


def room_interim(message: dict, room: str, speaker: str) -> dict:
    """A `partial` or `partial_translation` as a room's listeners get it: marked like the room's other results.
    Never history: a late joiner reads finals only."""
    return {**message, "room": room, "speaker": speaker, "history": False}


def room_result(event: Event, room: str, *, history: bool, inline_audio: bool = True,
                revised: bool = False) -> dict | None:
    """A result as a room's members get it: the speaker's message, saying whose utterance it is and whether it is
    live or history. `latency_ms` counts from the speaker's gateway cutting the utterance (its first timing).
    inline_audio=False: an audio message without its bytes (`with_inline_audio` or `audio_frame` adds them)."""
    started = event.timings[0].started_at if event.timings else event.timestamp
    latency_ms = round((utc_now() - started).total_seconds() * 1000, 1)
    message = result(event, latency_ms, inline_audio=inline_audio, revised=revised)
    if message is None:
        return None
    message.pop("stage_ms", None)
    message.update(room=room, speaker=event.correlation_id, history=history)
    return message


def result(event: Event, latency_ms: float, *, revised: bool = False, inline_audio: bool = True) -> dict | None:
    """The message for one result event (None: nothing to show, e.g. a segment without speech).
    `latency_ms`: from the gateway's cut of the segment to now. `revised`: a transcript that disagrees with the
    stable text of the partials sent for its utterance. inline_audio=False: an audio message without audio_b64."""
    payload = event.payload
    if isinstance(payload, TextRecognizedPayload):
        if not payload.text:
            return None
        return {
            "type": "transcript",
            "segment_index": payload.segment_index,
            "text": payload.text,
            "language": payload.language,
            # NaN is not JSON (JSON.parse refuses it): a confidence the model could not give is null.
            "confidence": round(payload.confidence, 3) if math.isfinite(payload.confidence) else None,
            "start_ms": payload.start_ms,
            "end_ms": payload.end_ms,
            "revised": revised,
            "latency_ms": latency_ms,
            "stage_ms": stage_breakdown(event),
            "event_id": event.event_id,
        }
    if isinstance(payload, TextTranslatedPayload):
        if payload.error:
            return warning(
                Kind.TRANSLATION_UNAVAILABLE,
                payload.error,
                segment_index=payload.segment_index,
                source_language=payload.source_language,
                target_language=payload.target_language,
            )
        return {
            "type": "translation",
            "segment_index": payload.segment_index,
            "source_language": payload.source_language,
            "target_language": payload.target_language,
            "text": payload.text,
            "source_text": payload.source_text,
            "engine": payload.engine,
            "via": payload.via,  # the pivot language when the router translated through one, else null
            "start_ms": payload.start_ms,
            "end_ms": payload.end_ms,
            "latency_ms": latency_ms,
            "stage_ms": stage_breakdown(event),
            "event_id": event.event_id,
        }
    if isinstance(payload, AudioSynthesisPayload):
        if payload.error:
            return warning(
                Kind.SPEECH_UNAVAILABLE, payload.error, segment_index=payload.segment_index, language=payload.language
            )
        message = {
            "type": "audio",
            "segment_index": payload.segment_index,
            "language": payload.language,
            "text": payload.text,
            "format": payload.audio_format,
            "sample_rate_hz": payload.sample_rate_hz,
            "duration_ms": payload.duration_ms,
            "voice": payload.voice,
            "engine": payload.engine,
            "latency_ms": latency_ms,
            "stage_ms": stage_breakdown(event),
            "event_id": event.event_id,
        }
        return with_inline_audio(message, payload) if inline_audio else message
    return None


def with_inline_audio(message: dict, payload: AudioSynthesisPayload) -> dict:
    """An audio message as a JSON text frame carries it: the WAV, base64, before `event_id` (a client that looks
    for the id from the end of the message finds it without reading the audio)."""
    inline = {name: value for name, value in message.items() if name != "event_id"}
    inline["audio_b64"] = base64.b64encode(payload.audio_bytes).decode("ascii")
    inline["event_id"] = message["event_id"]
    return inline


# A binary audio frame (a room's listener with audio=opus|wav; docs/protocol.md): this many bytes, big-endian, say
# how long the JSON header is; the header, then the audio file.
AUDIO_HEADER_LENGTH_BYTES = 4


def audio_frame(message: dict, payload: AudioSynthesisPayload, *, opus: bool) -> bytes:
    """An audio message (without audio_b64) as one binary frame: the header's length, the header (the message,
    with `format` and `bytes` of what follows), the audio file. `opus`: Ogg Opus when the tts stage made it
    (format "ogg_opus"), else the WAV (format "wav")."""
    if opus and payload.ogg_opus_bytes:
        audio, header = payload.ogg_opus_bytes, {**message, "format": "ogg_opus"}
    else:
        audio, header = payload.audio_bytes, {**message, "format": "wav"}
    header["bytes"] = len(audio)
    head = encode(header).encode()
    return len(head).to_bytes(AUDIO_HEADER_LENGTH_BYTES, "big") + head + audio
