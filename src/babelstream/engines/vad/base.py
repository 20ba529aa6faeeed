"""What the endpointer needs from a voice activity detector: a yes/no per fixed-size frame."""

from __future__ import annotations

from typing import Protocol


class InvalidVadConfig(ValueError):
    """A sample rate, frame size or threshold the detector cannot work with."""


class VoiceActivityDetector(Protocol):
    """Stateful (detectors adapt to the stream), so use one instance per audio stream."""

    frame_ms: int
    sample_rate_hz: int

    def is_speech(self, frame: bytes) -> bool:
        """frame: PCM16 LE mono, exactly frame_ms long, as bytes."""
        ...

    # Optional: `classify_frame(frame) -> bool`, the same decision without is_speech's own checks, for a caller
    # that only passes exactly one frame (the endpointer, 50 times a second per stream; see WebRtcVad).
