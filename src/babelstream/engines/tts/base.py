"""What a speech synthesizer returns and promises, independent of the engine behind it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

_PCM16_BYTES_PER_SAMPLE = 2


@dataclass(frozen=True)
class Synthesis:
    pcm: bytes  # PCM16 little-endian mono
    sample_rate_hz: int
    voice: str  # engine-specific voice name, e.g. "es" (espeak-ng) or "en_US-joe-medium" (piper)
    engine: str

    @property
    def duration_ms(self) -> int:
        return len(self.pcm) * 1000 // (_PCM16_BYTES_PER_SAMPLE * self.sample_rate_hz)


class Synthesizer(Protocol):
    name: str

    def languages(self) -> frozenset[str]:
        """ISO 639-1 codes; cheap (never loads a voice)."""
        ...

    def synthesize(self, text: str, language: str) -> Synthesis:
        """Synchronous and CPU-bound: callers on an event loop run it in a worker thread.

        Safe to call from several threads at once.
        """
        ...


class SynthesisError(Exception):
    """Base class of the synthesizers' named failures."""


class UnsupportedVoice(SynthesisError):
    def __init__(self, language: str, available: Iterable[str]):
        self.language = language
        self.available: list[str] = sorted(available)
        listed = ", ".join(self.available) if len(self.available) <= 20 else f"{len(self.available)} languages"
        super().__init__(f"no voice for language {language!r}; available: {listed or 'none'}")


class SynthesisFailed(SynthesisError):
    def __init__(self, engine: str, reason: str):
        self.engine = engine
        self.reason = reason
        super().__init__(f"speech engine {engine!r} failed: {reason}")


class SynthesizerUnavailable(SynthesisError):
    """An engine that cannot run on this machine (missing package, voice or binary)."""

    def __init__(self, engine: str, reason: str):
        self.engine = engine
        self.reason = reason
        super().__init__(f"speech engine {engine!r} is not available: {reason}")
