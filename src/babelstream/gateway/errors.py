"""Why a session ends early. Carries the close code, the reason the client reads, and whether audio survives."""

from __future__ import annotations


class SessionEnded(Exception):
    def __init__(self, code: int, reason: str, *, kind: str, keep_audio: bool = True):
        super().__init__(reason)
        self.code = int(code)
        self.reason = reason
        self.kind = kind  # the metrics label: idle, rate, frame_too_large, ...
        # What a person said is published even when the session ends abnormally, unless the
        # cause is abuse (rate, size): then the audio is not trusted and is dropped.
        self.keep_audio = keep_audio
