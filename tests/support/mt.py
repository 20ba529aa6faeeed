"""Translators that only tag their input, and a measured quality table for them: the router's tests without models."""

from __future__ import annotations

from babelstream.engines.mt.base import LanguagePair
from babelstream.engines.mt.quality import PathScore, QualityTable
from babelstream.engines.mt.registry import TranslatorRegistry


class TaggingTranslator:
    """Appends "<name:source>target>" so a test can read which engines ran, in which order."""

    def __init__(self, name: str, pairs: set[LanguagePair]):
        self.name = name
        self._pairs = frozenset(pairs)

    def pairs(self) -> frozenset[LanguagePair]:
        return self._pairs

    def translate(self, text: str, source: str, target: str) -> str:
        return f"{text} <{self.name}:{source}>{target}>"


def engines() -> TranslatorRegistry:
    bergamot = TaggingTranslator("bergamot", {("en", "pt"), ("pt", "en")})
    apertium = TaggingTranslator(
        "apertium", {("en", "es"), ("es", "en"), ("pt", "es"), ("es", "pt"), ("es", "ca"), ("ca", "es")}
    )
    return TranslatorRegistry([bergamot, apertium])


def table(*scores: tuple[str, str, float, float | None]) -> QualityTable:
    return QualityTable(PathScore(path, engines, chrf, chrf - 20, 121, p50) for path, engines, chrf, p50 in scores)


MEASURED = table(
    ("en>es", "apertium", 59.6, 3.0),
    ("en>pt>es", "bergamot+apertium", 66.2, 26.0),
    ("es>en", "apertium", 63.0, 3.0),
    ("es>pt>en", "apertium+bergamot", 73.0, 30.0),
    ("es>ca", "apertium", 87.4, 4.0),
    ("ca>es>pt", "apertium+apertium", 40.0, 5.0),
)
