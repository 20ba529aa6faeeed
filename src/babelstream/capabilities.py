"""What this installation can do: languages it recognises, pairs it translates (directly or through a pivot,
with the measured quality of the path each takes), languages it speaks.

Answered from what is installed, without loading models, so the gateway can check a session's request
at its start and the page can offer only what works, and warn where it works poorly.
"""

from __future__ import annotations

from functools import cached_property

from babelstream.engines.asr.languages import WHISPER_LANGUAGES
from babelstream.engines.mt.router import TranslationRouter
from babelstream.engines.tts.registry import SynthesizerRegistry
from babelstream.stages.settings import StageSettings
from babelstream.stages.translate import router_from_settings


class InstalledCapabilities:
    """Pass the registries of stages running in this process, so discovery (and the voice's sha256) is not
    done twice; a gateway alone discovers them itself on first use."""

    def __init__(
        self,
        settings: StageSettings,
        translators: TranslationRouter | None = None,
        synthesizers: SynthesizerRegistry | None = None,
    ):
        self.settings = settings
        if translators is not None:
            self._translators = translators
        if synthesizers is not None:
            self._synthesizers = synthesizers

    @cached_property
    def _translators(self) -> TranslationRouter:
        return router_from_settings(self.settings)

    @cached_property
    def _synthesizers(self) -> SynthesizerRegistry:
        return SynthesizerRegistry.from_installed(prefer_neural_english=self.settings.tts_neural_english)

    def source_languages(self) -> frozenset[str]:
        english_only = self.settings.asr_model_multilingual.endswith(".en")
        return frozenset({"en"} if english_only else WHISPER_LANGUAGES)

    def pairs(self) -> frozenset[tuple[str, str]]:
        return self._translators.pairs()

    def pair_quality(self) -> dict[str, dict]:
        """Per pair ("en-es"): the path it takes and that path's measured chrF/BLEU on the reference set
        (None where it was never measured), and whether it falls under MT_QUALITY_FLOOR."""
        listed = {}
        for source, target in sorted(self.pairs()):
            quality = self._translators.quality(source, target)
            score = quality.score
            listed[f"{source}-{target}"] = {
                "path": quality.route.path,
                "engine": quality.route.engine,
                "via": quality.route.via,
                "chrf": score.chrf if score else None,
                "bleu": score.bleu if score else None,
                "low_quality": quality.low_quality,
            }
        return listed

    def quality_floor(self) -> float:
        return self._translators.quality_floor

    def speech_languages(self) -> frozenset[str]:
        return self._synthesizers.languages()
