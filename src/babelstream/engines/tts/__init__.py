"""Speech synthesis engines: piper (neural, English) and espeak-ng (every other language)."""

from babelstream.engines.tts.base import (
    Synthesis,
    SynthesisError,
    SynthesisFailed,
    Synthesizer,
    SynthesizerUnavailable,
    UnsupportedVoice,
)
from babelstream.engines.tts.registry import SynthesizerRegistry

__all__ = [
    "Synthesis",
    "SynthesisError",
    "SynthesisFailed",
    "Synthesizer",
    "SynthesizerRegistry",
    "SynthesizerUnavailable",
    "UnsupportedVoice",
]
