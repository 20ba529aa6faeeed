"""What a speech recognizer returns and promises, independent of the model behind it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Recognition:
    text: str
    language: str  # ISO 639-1, e.g. "en"
    confidence: float  # 0..1: exp(mean token log-probability) of the kept segments
    language_probability: float  # 1.0 when the language was given rather than detected
    no_speech_probability: float
    duration_ms: int  # of the audio that was transcribed
    # With timestamps asked for: Whisper's segments as (start_ms, end_ms, text), times from the audio's start.
    segments: tuple[tuple[int, int, str], ...] = ()


class SpeechRecognizer(Protocol):
    name: str
    multilingual: bool

    def languages(self) -> frozenset[str]: ...

    def transcribe(self, pcm: bytes, sample_rate_hz: int, language: str | None) -> Recognition | None:
        """PCM16 LE mono in; None when there is no speech, never invented text.

        Synchronous and CPU-bound: callers on an event loop run it in a thread.
        """
        ...


class AsrError(Exception):
    """Base class of the recognizer's named failures."""


class ModelNotAvailable(AsrError):
    def __init__(self, name: str, reason: str):
        super().__init__(f"speech model {name!r} is not available: {reason}")
        self.name = name
        self.reason = reason


class LanguageNotSupported(AsrError):
    def __init__(self, language: str, model: str, supported: frozenset[str]):
        listed = ", ".join(sorted(supported)) if len(supported) <= 10 else f"{len(supported)} languages"
        super().__init__(f"speech model {model!r} cannot transcribe {language!r} (it supports {listed})")
        self.language = language
        self.model = model
        self.supported = supported
