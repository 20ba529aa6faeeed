"""Which synthesizer speaks a language: piper's neural voice for English, espeak-ng for the rest."""

from __future__ import annotations

import logging

from babelstream.engines.tts.base import Synthesizer, SynthesizerUnavailable, UnsupportedVoice
from babelstream.engines.tts.espeak import EspeakSynthesizer
from babelstream.engines.tts.piper import PiperSynthesizer

_LOGGER = logging.getLogger(__name__)


class SynthesizerRegistry:
    def __init__(self, synthesizers: list[Synthesizer], unavailable: dict[str, str] | None = None):
        """synthesizers: most preferred first. unavailable: engine name -> why it was skipped."""
        self._synthesizers = tuple(synthesizers)
        self.unavailable: dict[str, str] = dict(unavailable or {})

    @classmethod
    def from_installed(cls, prefer_neural_english: bool = True) -> SynthesizerRegistry:
        """Checksums the piper voice (~0.2 s) but starts no model: that happens on the first utterance."""
        synthesizers: list[Synthesizer] = []
        unavailable: dict[str, str] = {}
        for factory in (PiperSynthesizer, EspeakSynthesizer):
            if factory is PiperSynthesizer and not prefer_neural_english:
                continue
            try:
                synthesizers.append(factory())
            except SynthesizerUnavailable as error:
                unavailable[error.engine] = error.reason
                _LOGGER.info("speech engine %s skipped: %s", error.engine, error.reason)
        return cls(synthesizers, unavailable)

    def engines(self) -> tuple[str, ...]:
        return tuple(synthesizer.name for synthesizer in self._synthesizers)

    def languages(self) -> frozenset[str]:
        return frozenset().union(*(synthesizer.languages() for synthesizer in self._synthesizers))

    def synthesizer_for(self, language: str) -> Synthesizer:
        bare = language.strip().lower().replace("_", "-").split("-", 1)[0]
        for synthesizer in self._synthesizers:
            if bare in synthesizer.languages():
                return synthesizer
        raise UnsupportedVoice(language, self.languages())
