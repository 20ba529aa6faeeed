"""What a client reads when an engine fails on a sentence: a warning in words free of the engine's internals
(its stderr, a model's path); the details go to the log with the session's correlation id. Issue #10.

The engines here are fakes that fail the way real ones do (TranslationFailed carrying Apertium's stderr,
SynthesisFailed carrying a voice file's path): they stand for an engine's failure, not for a part of the system.
"""

from __future__ import annotations

import logging

from babelstream.contracts.events import Event, SessionOptions, TextRecognizedPayload, TextTranslatedPayload
from babelstream.engines.mt.base import TranslationFailed
from babelstream.engines.mt.quality import QualityTable
from babelstream.engines.mt.registry import TranslatorRegistry
from babelstream.engines.mt.router import TranslationRouter
from babelstream.engines.tts.base import SynthesisFailed
from babelstream.engines.tts.registry import SynthesizerRegistry
from babelstream.gateway import messages
from babelstream.stages.settings import StageSettings
from babelstream.stages.translate import TranslateStage
from babelstream.stages.tts import TtsStage

MODE_PATH = "/usr/share/apertium/modes/en-es.mode"
VOICE_PATH = "/home/operator/.cache/babelstream/voices/es_ES-carla.onnx"
SESSION = "5b2f7c1e-0d7a-4a55-9c1c-3f1e2d4c5b6a"


class BrokenTranslator:
    name = "apertium"

    def pairs(self) -> frozenset[tuple[str, str]]:
        return frozenset({("en", "es")})

    def translate(self, text: str, source: str, target: str) -> str:
        raise TranslationFailed("apertium", f"{MODE_PATH}: exit 1: lt-proc: error: could not open {MODE_PATH}")


class BrokenSynthesizer:
    name = "piper"

    def languages(self) -> frozenset[str]:
        return frozenset({"es"})

    def synthesize(self, text: str, language: str):
        raise SynthesisFailed("piper", f"cannot load {VOICE_PATH}: [ONNXRuntimeError] NO_SUCHFILE")


def recognized(targets: tuple[str, ...]) -> Event:
    return Event(
        payload=TextRecognizedPayload(
            text="The house is big.", language="en", confidence=0.9, segment_index=3, start_ms=0, end_ms=900,
            options=SessionOptions(source_language="en", target_languages=targets),
        ),
        correlation_id=SESSION,
        source_service="asr-1",
    )


def translated() -> Event:
    return Event(
        payload=TextTranslatedPayload(
            text="La casa es grande.", source_text="The house is big.", source_language="en", target_language="es",
            engine="apertium", segment_index=3, start_ms=0, end_ms=900,
            options=SessionOptions(source_language="en", target_languages=("es",), synthesize=True),
        ),
        correlation_id=SESSION,
        source_service="translate-1",
    )


async def test_a_failing_translation_engine_reaches_the_client_without_its_internals(caplog):
    caplog.set_level(logging.WARNING, logger="babelstream")
    router = TranslationRouter(TranslatorRegistry([BrokenTranslator()]), QualityTable())
    stage = TranslateStage(StageSettings(warm_up=False), "translate-1", router=router)
    outputs = {out.payload.target_language: out for out in await stage.handle(recognized(("es", "ja")))}

    warning = messages.result(outputs["es"], 0.0)
    assert warning["kind"] == "translation_unavailable"
    assert warning["reason"] == "the translation engine failed on this sentence"
    assert "/" not in outputs["es"].payload.error and "lt-proc" not in outputs["es"].payload.error
    # The operator has the details, with the session to find them by.
    [logged] = [r.getMessage() for r in caplog.records if MODE_PATH in r.getMessage()]
    assert SESSION in logged and "en->es" in logged
    # A pair nothing translates keeps its useful reason: it names the pair and what is available.
    unsupported = outputs["ja"].payload.error
    assert "en->ja" in unsupported and "en->es" in unsupported


async def test_a_failing_speech_engine_reaches_the_client_as_a_warning_without_its_internals(caplog):
    caplog.set_level(logging.WARNING, logger="babelstream")
    stage = TtsStage(StageSettings(warm_up=False), "tts-1", registry=SynthesizerRegistry([BrokenSynthesizer()]))
    [spoken] = await stage.handle(translated())  # before: the exception dead-lettered it, and the client waited

    warning = messages.result(spoken, 0.0)
    assert warning["kind"] == "speech_unavailable"
    assert warning["reason"] == "the speech engine failed on this sentence"
    assert VOICE_PATH not in str(warning)
    [logged] = [r.getMessage() for r in caplog.records if VOICE_PATH in r.getMessage()]
    assert SESSION in logged
