"""Text translation engines: Apertium (rule-based), Bergamot (neural en<->pt), operator-supplied CTranslate2 models."""

from babelstream.engines.mt.base import (
    EngineUnavailable,
    LanguagePair,
    TranslationError,
    TranslationFailed,
    Translator,
    UnsupportedPair,
)
from babelstream.engines.mt.registry import TranslatorRegistry

__all__ = [
    "EngineUnavailable",
    "LanguagePair",
    "TranslationError",
    "TranslationFailed",
    "Translator",
    "TranslatorRegistry",
    "UnsupportedPair",
]
