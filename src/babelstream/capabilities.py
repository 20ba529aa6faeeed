"""What this installation can do: languages it recognises, pairs it translates, languages it speaks.

Answered from what is installed, without loading models, so the gateway can check a session's request
at its start and the page can offer only what works.
"""

from __future__ import annotations

from functools import cached_property

from babelstream.engines.asr.languages import WHISPER_LANGUAGES
from babelstream.engines.mt.registry import TranslatorRegistry
from babelstream.engines.tts.registry import SynthesizerRegistry
from babelstream.stages.settings import StageSettings


class InstalledCapabilities:
    """Pass the registries of stages running in this process, so discovery (and the voice's sha256) is not
    done twice; a gateway alone discovers them itself on first use."""

    def __init__(
        self,
        settings: StageSettings,
        translators: TranslatorRegistry | None = None,
        synthesizers: SynthesizerRegistry | None = None,
    ):
        self.settings = settings
        if translators is not None:
            self._translators = translators
        if synthesizers is not None:
            self._synthesizers = synthesizers

    @cached_property
    def _translators(self) -> TranslatorRegistry:
        return TranslatorRegistry.from_installed(opus_models=self.settings.mt_opus_models)

    @cached_property
    def _synthesizers(self) -> SynthesizerRegistry:
        return SynthesizerRegistry.from_installed(prefer_neural_english=self.settings.tts_neural_english)

    def source_languages(self) -> frozenset[str]:
        english_only = self.settings.asr_model_multilingual.endswith(".en")
        return frozenset({"en"} if english_only else WHISPER_LANGUAGES)

    def pairs(self) -> frozenset[tuple[str, str]]:
        return self._translators.pairs()

    def speech_languages(self) -> frozenset[str]:
        return self._synthesizers.languages()
