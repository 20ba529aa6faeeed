"""The endpointer's per-frame state machine in C (_endpointer.c), behind the same interface as PythonEndpointer.

A live stream feeds its endpointer 50 times a second; at 1,000 streams per core the Python version's calls,
per-call list and per-frame objects cost about as much as the VAD itself. The C core does the same steps in one
call and keeps a stream's audio in one contiguous buffer. The settings are validated and turned into whole
frames here, by the same code as the Python version's (FrameCounts.of), so the two cannot drift apart there.

`AVAILABLE` is False when the extension was not built (no C compiler at install time); endpointer.py then
uses the Python version.
"""

from __future__ import annotations

from babelstream.engines.vad.base import VoiceActivityDetector
from babelstream.engines.vad.utterance import (
    MAX_SEGMENT_MS,
    MIN_SILENCE_MS,
    MIN_SPEECH_MS,
    POST_ROLL_MS,
    PRE_ROLL_MS,
    FrameCounts,
    Utterance,
)

try:
    from babelstream.engines.vad._endpointer import EndpointerCore
except ImportError:  # pragma: no cover - built by `pip install` wherever a C compiler exists
    EndpointerCore = object
    AVAILABLE = False
else:
    AVAILABLE = True


class NativeEndpointer(EndpointerCore):  # type: ignore[misc, valid-type]
    """PythonEndpointer's behaviour, run in C: feed(pcm) -> utterances completed, flush(), in_speech, frame_ms."""

    __slots__ = ()

    def __init__(
        self,
        vad: VoiceActivityDetector,
        *,
        min_silence_ms: int = MIN_SILENCE_MS,
        max_segment_ms: int = MAX_SEGMENT_MS,
        pre_roll_ms: int = PRE_ROLL_MS,
        min_speech_ms: int = MIN_SPEECH_MS,
        post_roll_ms: int = POST_ROLL_MS,
    ):
        if not AVAILABLE:
            raise RuntimeError("babelstream's C endpointer was not built; use PythonEndpointer")
        counts = FrameCounts.of(
            vad,
            min_silence_ms=min_silence_ms,
            max_segment_ms=max_segment_ms,
            pre_roll_ms=pre_roll_ms,
            min_speech_ms=min_speech_ms,
            post_roll_ms=post_roll_ms,
        )
        # A detector with a C entry point is called through it (no Python frame per 20 ms); any other through
        # is_speech.
        native = getattr(vad, "detector_call", None)
        detect, leading, trailing = native() if native is not None else (vad.is_speech, (), ())
        super().__init__(
            detect=detect,
            leading_args=leading,
            trailing_args=trailing,
            utterance_type=Utterance,
            frame_bytes=counts.frame_bytes,
            frame_ms=counts.frame_ms,
            silence_frames_to_end=counts.silence_frames_to_end,
            max_frames=counts.max_frames,
            pre_roll_frames=counts.pre_roll_frames,
            min_voiced_frames=counts.min_voiced_frames,
            post_roll_frames=counts.post_roll_frames,
        )
