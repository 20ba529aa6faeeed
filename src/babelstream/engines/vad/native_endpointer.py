"""The endpointer's per-frame state machine in C (_endpointer.c), behind the same interface as PythonEndpointer.

A live stream feeds its endpointer 50 times a second; at 1,000 streams per core the Python version's calls,
per-call list cost a tenth of the gateway's CPU per frame. The C core does the same steps in one call, holding the
frames by reference as the Python version does. The settings are validated and turned into whole frames here,
by the same code as the Python version's (FrameCounts.of), so the two cannot drift apart there.

`AVAILABLE` is False when the extension was not built (no C compiler at install time); endpointer.py then
uses the Python version.
"""

from __future__ import annotations

from babelstream.engines.vad.base import VoiceActivityDetector
from babelstream.engines.vad.utterance import FrameCounts, Utterance

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

    def __init__(self, vad: VoiceActivityDetector, **settings: int):
        """settings: min_silence_ms, max_segment_ms, pre_roll_ms, min_speech_ms, post_roll_ms (defaults and
        validation in FrameCounts.of)."""
        if not AVAILABLE:
            raise RuntimeError("babelstream's C endpointer was not built; use PythonEndpointer")
        counts = FrameCounts.of(vad, **settings)
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
