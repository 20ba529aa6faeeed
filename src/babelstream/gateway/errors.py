"""Why a session ends early: a stable, machine-readable kind, the close code, and the reason a person reads."""

from __future__ import annotations

import enum


class Kind(enum.StrEnum):
    """What a client switches on (`error.kind`, `warning.kind`); also the metrics' `reason` label.
    Renaming a member breaks clients: docs/protocol.md lists them and a test keeps the two in step."""

    # refusals before the session starts
    ORIGIN = "origin"
    UNAUTHENTICATED = "unauthenticated"
    FORBIDDEN = "forbidden"
    CAPACITY = "capacity"
    PIPELINE_UNAVAILABLE = "pipeline_unavailable"  # the bus is unreachable: nothing said could be published
    OVERLOADED = "overloaded"  # the pipeline is behind (its backlog or latency): a new speaker waits
    # the client's messages
    MALFORMED = "malformed"
    UNSUPPORTED_LANGUAGE = "unsupported_language"
    EMPTY_STREAM = "empty_stream"
    NOT_WHOLE_SAMPLES = "not_whole_samples"
    PROTOCOL_ERROR = "protocol_error"
    RESUME_REFUSED = "resume_refused"  # a resume whose token is forged, expired, or another session's
    # limits
    RATE = "rate"
    AUDIO_TOO_FAST = "audio_too_fast"
    FRAME_TOO_LARGE = "frame_too_large"
    BUFFER_FULL = "buffer_full"
    SESSION_TOO_LONG = "session_too_long"
    IDLE = "idle"
    SLOW_READER = "slow_reader"
    # the server's side
    PUBLISH_FAILED = "publish_failed"
    SHUTDOWN = "shutdown"
    INTERNAL = "internal"
    # warnings: the session goes on
    UNSUPPORTED_PAIR = "unsupported_pair"
    TRANSLATION_UNAVAILABLE = "translation_unavailable"
    SPEECH_UNAVAILABLE = "speech_unavailable"
    AUDIO_LOST = "audio_lost"  # a resumed session: audio its dead gateway received but never published
    AUDIO_SKIPPED = "audio_skipped"  # a room listener not keeping up: spoken translations skipped, text still sent


class SessionEnded(Exception):
    def __init__(self, code: int, reason: str, *, kind: Kind, keep_audio: bool = True, details: dict | None = None):
        super().__init__(reason)
        self.code = int(code)
        self.reason = reason
        self.kind = Kind(kind)
        self.details = details or {}  # more fields for the error message (`retry_after_ms`)
        # What a person said is published even when the session ends abnormally, unless the
        # cause is abuse (rate, size): then the audio is not trusted and is dropped.
        self.keep_audio = keep_audio
