"""Which path a language pair takes: one engine directly, or two through an intermediate language.

For each (source, target) the router considers the direct engine and every pivot `source > via > target`
whose two hops some installed engine serves, and takes the one with the best measured chrF in the quality
table. English -> Spanish, for instance, goes through Bergamot's neural English -> Portuguese and Apertium's
close-kin Portuguese -> Spanish, because that measured far better than Apertium's direct English -> Spanish.
Pivots also open pairs no engine serves directly (Catalan -> Portuguese, French -> English).

Rules, in order:
  1. `MT_ROUTES` names a path for the pair: that path (checked at start: each hop must be served).
  2. The direct engine has no measurement (an operator's OPUS-MT/NLLB model, say): the direct engine —
     the operator chose it; measure it to let it compete.
  3. The measured path with the best chrF; paths within TIE_CHRF of the best count as tied, and of those
     the fastest (measured median per sentence) wins: a difference that small is within what 121 sentences
     can resolve, and not worth a slower path.
  4. Nothing measured: the direct engine, else the first pivot by intermediate language.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from babelstream.engines.mt.base import LanguagePair, ReportsUnknownWords, UnsupportedPair, normalize_language
from babelstream.engines.mt.names import restore_names
from babelstream.engines.mt.orthography import mend
from babelstream.engines.mt.quality import SHIPPED_TABLE, PathScore, QualityTable
from babelstream.engines.mt.registry import InvalidTranslationConfig, TranslatorRegistry

_LOGGER = logging.getLogger(__name__)

DEFAULT_QUALITY_FLOOR = 45.0  # chrF under which a pair is listed as low quality
TIE_CHRF = 1.0
# A back-off answer longer than this is a phrase or a sentence, not the word that was missing: not used.
MAX_BACK_OFF_WORDS = 2
_EDGE_PUNCTUATION = ".,;:!?¿¡\"'«»()"


@dataclass(frozen=True)
class Route:
    languages: tuple[str, ...]  # ("en", "pt", "es"); ("en", "es") for a direct engine
    engines: tuple[str, ...]  # one per hop: ("bergamot", "apertium")

    @property
    def via(self) -> str | None:
        return self.languages[1] if len(self.languages) == 3 else None

    @property
    def engine(self) -> str:
        return "+".join(self.engines)

    @property
    def path(self) -> str:
        return ">".join(self.languages)

    def hops(self) -> list[LanguagePair]:
        return list(zip(self.languages, self.languages[1:]))


@dataclass(frozen=True)
class RoutedTranslation:
    text: str
    route: Route
    steps: tuple[str, ...] = ()  # the text after each hop; the last is `text`


# (hop input, engine output, source, target) -> the text handed on; `orthography.mend` by default.
BoundaryMend = Callable[[str, str, str, str], str]


@dataclass(frozen=True)
class PairQuality:
    route: Route
    score: PathScore | None  # None: this path was never measured
    low_quality: bool


def parse_routes(spec: str) -> dict[LanguagePair, tuple[str, ...]]:
    """'en-es=en>pt>es, es-en=es>en' -> {("en", "es"): ("en", "pt", "es"), ("es", "en"): ("es", "en")}."""
    routes: dict[LanguagePair, tuple[str, ...]] = {}
    for entry in filter(None, (part.strip() for part in spec.split(","))):
        pair_text, separator, path_text = entry.partition("=")
        pair = tuple(normalize_language(code) for code in pair_text.split("-"))
        path = tuple(normalize_language(code) for code in path_text.split(">"))
        if (
            not separator
            or len(pair) != 2
            or not all(pair)
            or not all(path)
            or len(path) not in (2, 3)
            or (path[0], path[-1]) != pair
            or len(set(path)) != len(path)
        ):
            raise InvalidTranslationConfig(
                f"expected 'source-target=source>target' or 'source-target=source>via>target' in {spec!r}, got {entry!r}"
            )
        if pair in routes:
            raise InvalidTranslationConfig(f"{pair[0]}-{pair[1]} is routed twice in {spec!r}")
        routes[pair] = path  # type: ignore[assignment]
    return routes


class TranslationRouter:
    def __init__(
        self,
        registry: TranslatorRegistry,
        table: QualityTable | None = None,
        routes: Mapping[LanguagePair, tuple[str, ...]] | None = None,
        quality_floor: float = DEFAULT_QUALITY_FLOOR,
        boundary: BoundaryMend = mend,
        protect_names: bool = True,
        back_off_unknown_words: bool = True,
    ):
        """boundary: what is done to each engine's output before it goes on; the benchmark passes a no-op
        to measure what the mends are worth, and turns the two fixes below off for their before/after.
        protect_names: people's names the engines changed are put back (names.py).
        back_off_unknown_words: a word an engine copied through untranslated (Apertium's pt->es leaves
        "carregador" in the Spanish) is translated alone along another path (pt>en>es: "cargador")."""
        self.registry = registry
        self._boundary = boundary
        self._names = registry.proper_noun_finder() if protect_names else None
        self._back_off = back_off_unknown_words
        self.table = table if table is not None else QualityTable()
        self.quality_floor = quality_floor
        self._served = registry.pairs()
        self._overrides: dict[LanguagePair, Route] = {}
        for pair, languages in (routes or {}).items():
            missing = [f"{a}-{b}" for a, b in zip(languages, languages[1:]) if (a, b) not in self._served]
            if missing:
                raise InvalidTranslationConfig(
                    f"MT_ROUTES sends {pair[0]}-{pair[1]} through {'>'.join(languages)}, but no installed engine "
                    f"serves {', '.join(missing)}"
                )
            self._overrides[pair] = self._route(languages)
        self._chosen: dict[LanguagePair, Route] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_installed(
        cls, opus_models: str = "", routes: str = "", quality_table: str = "", quality_floor: float = DEFAULT_QUALITY_FLOOR
    ) -> TranslationRouter:
        """Cheap: engines look for their files; nothing loads until a pair's first sentence."""
        registry = TranslatorRegistry.from_installed(opus_models=opus_models)
        table = QualityTable.load(Path(quality_table) if quality_table else SHIPPED_TABLE)
        return cls(registry, table, parse_routes(routes), quality_floor)

    def _route(self, languages: tuple[str, ...]) -> Route:
        engines = tuple(self.registry.translator_for(a, b).name for a, b in zip(languages, languages[1:]))
        return Route(languages, engines)

    def candidates(self, source: str, target: str) -> list[Route]:
        """The direct path (if served) first, then each pivot in order of its intermediate language."""
        source, target = normalize_language(source), normalize_language(target)
        languages = {language for pair in self._served for language in pair}
        paths: list[tuple[str, ...]] = []
        if (source, target) in self._served:
            paths.append((source, target))
        for via in sorted(languages - {source, target}):
            if (source, via) in self._served and (via, target) in self._served:
                paths.append((source, via, target))
        return [self._route(path) for path in paths]

    def route(self, source: str, target: str) -> Route:
        source, target = normalize_language(source), normalize_language(target)
        if source == target:
            return Route((source, target), ("passthrough",))
        with self._lock:
            chosen = self._chosen.get((source, target))
        if chosen is not None:
            return chosen
        chosen = self._overrides.get((source, target)) or self._best(source, target)
        with self._lock:
            self._chosen[(source, target)] = chosen
        return chosen

    def _best(self, source: str, target: str) -> Route:
        candidates = self.candidates(source, target)
        if not candidates:
            raise UnsupportedPair(source, target, self.pairs())
        direct = candidates[0] if len(candidates[0].languages) == 2 else None
        if direct is not None and self.table.score(direct.languages, direct.engines) is None:
            return direct
        measured = [(score, route) for route in candidates
                    if (score := self.table.score(route.languages, route.engines)) is not None]
        if measured:
            best = max(score.chrf for score, _ in measured)
            tied = [(score, route) for score, route in measured if score.chrf >= best - TIE_CHRF]
            fastest = min(tied, key=lambda item: (item[0].p50_ms is None, item[0].p50_ms or 0.0, len(item[1].languages)))
            return fastest[1]
        return candidates[0]

    def pairs(self) -> frozenset[LanguagePair]:
        """Every pair some path serves, direct or through a pivot."""
        languages = {language for pair in self._served for language in pair}
        return frozenset(
            (source, target)
            for source in languages
            for target in languages
            if source != target and ((source, target) in self._served or self.candidates(source, target))
        )

    def quality(self, source: str, target: str) -> PairQuality:
        route = self.route(source, target)
        score = self.table.score(route.languages, route.engines)
        return PairQuality(route, score, low_quality=score is not None and score.chrf < self.quality_floor)

    def translate(self, text: str, source: str, target: str) -> RoutedTranslation:
        """Synchronous and CPU-bound, like the engines: callers on an event loop use a worker thread."""
        route = self.route(source, target)
        if route.engines == ("passthrough",):
            return RoutedTranslation(text, route, (text,))
        return self.translate_by(route, text)

    def translate_by(self, route: Route, text: str) -> RoutedTranslation:
        """Along a given path (the benchmark scores every candidate this way)."""
        source_text, steps = text, []
        for a, b in route.hops():
            engine = self.registry.translator_for(a, b)
            if self._back_off and isinstance(engine, ReportsUnknownWords):
                translated, unknown = engine.translate_with_unknowns(text, a, b)
                translated = self._backed_off(translated, unknown, a, b)
            else:
                translated = engine.translate(text, a, b)
            text = self._boundary(text, translated, a, b)
            steps.append(text)
        if self._names is not None and steps:
            text = steps[-1] = self._names_restored(source_text, text, route.languages[0], route.languages[-1])
        return RoutedTranslation(text, route, tuple(steps))

    def _names_restored(self, source_text: str, translated: str, source: str, target: str) -> str:
        found = self._names.proper_nouns(source_text, source)  # type: ignore[union-attr]
        if not found or not found.people:
            return translated
        in_target = self._names.proper_nouns(translated, target)  # type: ignore[union-attr]
        people, places = (in_target.people, in_target.places) if in_target else ((), ())
        return restore_names(source_text, found.people, translated, people, places)

    def back_off_route(self, source: str, target: str) -> Route | None:
        """Where a word the (source, target) engine did not know is sent instead: the best measured pivot.
        Its first hop is another engine or another of Apertium's dictionaries (es->en knows words es->pt
        lacks), so it may know the word; None when the pair has no pivot."""
        pivots = [route for route in self.candidates(source, target) if route.via is not None]
        if not pivots:
            return None
        return max(pivots, key=lambda route: (score.chrf if (score := self.table.score(route.languages, route.engines)) else -1.0))

    def _backed_off(self, translated: str, unknown: tuple[str, ...], source: str, target: str) -> str:
        """Each lower-case word left untranslated, translated alone along the back-off route; capitalised
        ones are names and stay. An answer that is itself untranslated, or a phrase, is not used."""
        words = [word for word in dict.fromkeys(unknown) if word[:1].islower()]
        route = self.back_off_route(source, target) if words else None
        if route is None:
            return translated
        for word in words:
            answer = word
            for a, b in route.hops():
                engine = self.registry.translator_for(a, b)
                if isinstance(engine, ReportsUnknownWords):
                    answer, still_unknown = engine.translate_with_unknowns(answer, a, b)
                    if still_unknown:
                        answer = ""
                else:
                    answer = engine.translate(answer, a, b)
                # Alone, a word comes back capitalised ("Charger"), which the next engine may take for a name.
                answer = answer.strip(_EDGE_PUNCTUATION + " ").lower()
                if not answer:
                    break
            if not answer or len(answer.split()) > MAX_BACK_OFF_WORDS or answer.lower() == word.lower():
                continue
            translated = re.sub(rf"(?<![\w-]){re.escape(word)}(?![\w-])", answer, translated, count=1)
        return translated

    def engines(self) -> tuple[str, ...]:
        return self.registry.engines()

    def close(self) -> None:
        self.registry.close()
