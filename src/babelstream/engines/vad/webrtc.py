"""WebRTC's GMM detector: a few microseconds per frame, so it is the default for live streams."""

from __future__ import annotations

import functools
from collections.abc import Callable

import webrtcvad

from babelstream.engines.vad.base import InvalidVadConfig

SUPPORTED_RATES_HZ = (8000, 16000, 32000, 48000)
SUPPORTED_FRAME_MS = (10, 20, 30)


class WebRtcVad:
    def __init__(self, sample_rate_hz: int = 16000, frame_ms: int = 20, aggressiveness: int = 2):
        """aggressiveness 0 (keeps most audio) .. 3 (drops most non-speech)."""
        if sample_rate_hz not in SUPPORTED_RATES_HZ:
            raise InvalidVadConfig(f"webrtcvad needs a rate in {SUPPORTED_RATES_HZ}, got {sample_rate_hz}")
        if frame_ms not in SUPPORTED_FRAME_MS:
            raise InvalidVadConfig(f"webrtcvad needs frames of {SUPPORTED_FRAME_MS} ms, got {frame_ms}")
        if aggressiveness not in (0, 1, 2, 3):
            raise InvalidVadConfig(f"webrtcvad aggressiveness is 0..3, got {aggressiveness}")
        self.sample_rate_hz = sample_rate_hz
        self.frame_ms = frame_ms
        self.aggressiveness = aggressiveness
        self._samples_per_frame = sample_rate_hz * frame_ms // 1000
        self._frame_bytes = 2 * self._samples_per_frame
        # webrtcvad's public API; its C module (_webrtcvad) is the package's private part.
        self._vad_is_speech = webrtcvad.Vad(aggressiveness).is_speech
        # For a caller that only ever passes exactly one frame (the endpointer): no check of our own in between.
        self.classify_frame: Callable[[bytes], bool] = functools.partial(
            self._vad_is_speech, sample_rate=sample_rate_hz, length=self._samples_per_frame
        )

    def is_speech(self, frame: bytes) -> bool:
        if len(frame) != self._frame_bytes:  # the C code reads exactly one frame: never past a shorter buffer
            raise InvalidVadConfig(f"webrtcvad takes frames of {self._frame_bytes} bytes, got {len(frame)}")
        return self._vad_is_speech(frame, self.sample_rate_hz, self._samples_per_frame)
