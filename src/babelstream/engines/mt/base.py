"""What a text translator promises, independent of the engine behind it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, runtime_checkable

LanguagePair = tuple[str, str]  # (source, target), ISO 639-1 codes such as ("en", "es")


class Translator(Protocol):
    name: str

    def pairs(self) -> frozenset[LanguagePair]:
        """Cheap: never loads a model or starts a process."""
        ...

    def translate(self, text: str, source: str, target: str) -> str:
        """Synchronous and CPU-bound: callers on an event loop run it in a worker thread.

        Safe to call from several threads at once.
        """
        ...


def normalize_language(code: str) -> str:
    """'pt-BR', 'en_US', ' ES ' -> 'pt', 'en', 'es': engines are keyed by the bare language."""
    return code.strip().replace("_", "-").split("-", 1)[0].lower()


def describe_pairs(pairs: Iterable[LanguagePair]) -> str:
    listed = ", ".join(f"{source}->{target}" for source, target in sorted(pairs))
    return listed or "none"


class TranslationError(Exception):
    """Base class of the translators' named failures."""


class UnsupportedPair(TranslationError):
    def __init__(self, source: str, target: str, available: Iterable[LanguagePair]):
        self.source = source
        self.target = target
        self.available: list[LanguagePair] = sorted(available)
        super().__init__(f"no translator for {source}->{target}; available pairs: {describe_pairs(self.available)}")


class TranslationFailed(TranslationError):
    def __init__(self, engine: str, reason: str):
        self.engine = engine
        self.reason = reason
        super().__init__(f"translation engine {engine!r} failed: {reason}")


class EngineUnavailable(TranslationError):
    """An engine that cannot run on this machine (missing package, model or binary)."""

    def __init__(self, engine: str, reason: str):
        self.engine = engine
        self.reason = reason
        super().__init__(f"translation engine {engine!r} is not available: {reason}")


@runtime_checkable
class ReportsUnknownWords(Protocol):
    """An engine that can say which words it copied through untranslated (Apertium's unknown-word marks)."""

    def translate_with_unknowns(self, text: str, source: str, target: str) -> tuple[str, tuple[str, ...]]: ...
