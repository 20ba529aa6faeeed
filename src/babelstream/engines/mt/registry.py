"""Which translator serves a language pair: every engine this machine can run, in order of preference."""

from __future__ import annotations

from typing import Any

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from babelstream.engines.mt.apertium import ApertiumTranslator
from babelstream.engines.mt.base import (
    EngineUnavailable,
    LanguagePair,
    Translator,
    UnsupportedPair,
    normalize_language,
)
from babelstream.engines.mt.bergamot import BergamotTranslator
from babelstream.engines.mt.opus_ct2 import OpusCt2Translator

_LOGGER = logging.getLogger(__name__)

# Operator-supplied models first (they chose them), then neural, then rule-based.
DEFAULT_ENGINE_ORDER: tuple[str, ...] = ("opus-ct2", "bergamot", "apertium")


class InvalidTranslationConfig(ValueError):
    """A model map or engine order string that cannot be parsed."""


def parse_opus_models(spec: str) -> dict[LanguagePair, Path]:
    """'en-de=/models/opus-mt-en-de,en-fr=/models/nllb' -> {("en", "de"): Path(...), ...}."""
    models: dict[LanguagePair, Path] = {}
    for entry in filter(None, (part.strip() for part in spec.split(","))):
        pair_text, separator, path_text = entry.partition("=")
        languages = pair_text.strip().split("-")
        if not separator or len(languages) != 2 or not all(languages) or not path_text.strip():
            raise InvalidTranslationConfig(f"expected 'source-target=/model/dir' in {spec!r}, got {entry!r}")
        pair = (normalize_language(languages[0]), normalize_language(languages[1]))
        if pair in models:
            raise InvalidTranslationConfig(f"{pair[0]}-{pair[1]} is mapped twice in {spec!r}")
        models[pair] = Path(path_text.strip())
    return models


def parse_engine_order(spec: str) -> tuple[str, ...]:
    """'bergamot,apertium' -> ("bergamot", "apertium"); engines left out are not used at all."""
    order = tuple(name.strip() for name in spec.split(",") if name.strip())
    unknown = [name for name in order if name not in DEFAULT_ENGINE_ORDER]
    if unknown or not order:
        raise InvalidTranslationConfig(
            f"engine order {spec!r} must list some of {', '.join(DEFAULT_ENGINE_ORDER)}; unknown: {unknown}"
        )
    return order


class PassthroughTranslator:
    """Source and target are the same language: the text is already what the listener wants."""

    name = "passthrough"

    def pairs(self) -> frozenset[LanguagePair]:
        return frozenset()

    def translate(self, text: str, source: str, target: str) -> str:
        return text


class TranslatorRegistry:
    def __init__(self, translators: Sequence[Translator], unavailable: Mapping[str, str] | None = None):
        """translators: most preferred first. unavailable: engine name -> why it was skipped."""
        self._translators = tuple(translators)
        self._passthrough = PassthroughTranslator()
        self.unavailable: dict[str, str] = dict(unavailable or {})

    @classmethod
    def from_installed(
        cls, opus_models: str = "", engine_order: Sequence[str] | str = DEFAULT_ENGINE_ORDER
    ) -> TranslatorRegistry:
        """Cheap: engines only look for their files here; models load on a pair's first sentence."""
        order = parse_engine_order(engine_order) if isinstance(engine_order, str) else tuple(engine_order)
        models = parse_opus_models(opus_models)
        factories: dict[str, Callable[[], Translator]] = {
            "opus-ct2": lambda: OpusCt2Translator(models),
            "bergamot": BergamotTranslator,
            "apertium": ApertiumTranslator,
        }
        translators: list[Translator] = []
        unavailable: dict[str, str] = {}
        for name in order:
            if name not in factories:
                raise InvalidTranslationConfig(f"unknown translation engine {name!r}")
            try:
                translators.append(factories[name]())
            except EngineUnavailable as error:
                unavailable[name] = error.reason
                _LOGGER.info("translation engine %s skipped: %s", name, error.reason)
        return cls(translators, unavailable)

    def engines(self) -> tuple[str, ...]:
        return tuple(translator.name for translator in self._translators)

    def pairs(self) -> frozenset[LanguagePair]:
        """Every pair some engine serves; identity pairs (en->en) always work and are not listed."""
        return frozenset().union(*(translator.pairs() for translator in self._translators))

    def translator_for(self, source: str, target: str) -> Translator:
        source, target = normalize_language(source), normalize_language(target)
        if source == target:
            return self._passthrough
        for translator in self._translators:
            if (source, target) in translator.pairs():
                return translator
        raise UnsupportedPair(source, target, self.pairs())

    def proper_noun_finder(self) -> Any | None:
        """The engine whose analysers tell people's names from words (Apertium's `proper_nouns`), if any."""
        return next((t for t in self._translators if callable(getattr(t, "proper_nouns", None))), None)

    def close(self) -> None:
        for translator in self._translators:
            close = getattr(translator, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:  # one engine failing to stop must not keep the others running
                    _LOGGER.exception("closing translation engine %s failed", translator.name)
