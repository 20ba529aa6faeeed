"""TextTranslatedEvent -> AudioSynthesisEvent: the translation spoken aloud (piper for English, espeak-ng else).

A room's utterance is also encoded as Ogg Opus, for its listeners. Nothing is synthesized for a failed
translation or a session that asked for no speech; a language without a voice, or an engine that fails, yields
an event carrying the error, so the client learns why no audio came (an engine's failure in words free of its
internals; the details are logged with the correlation id).
"""

from __future__ import annotations

import asyncio
import logging

from babelstream.contracts.events import AudioSynthesisPayload, Event, TextTranslatedPayload, utc_now
from babelstream.contracts.topics import TRANSLATION_TEXT
from babelstream.contracts.wav import wrap_pcm16
from babelstream.engines.tts.base import SynthesisError, UnsupportedVoice
from babelstream.engines.tts.ogg_opus import encode_ogg_opus
from babelstream.engines.tts.registry import SynthesizerRegistry
from babelstream.stages.settings import StageSettings

log = logging.getLogger(__name__)

# What the client reads (a warning's reason) when a speech engine fails; the details go to the log.
ENGINE_FAILED = "the speech engine failed on this sentence"


class TtsStage:
    name = "tts"
    input_topic = TRANSLATION_TEXT

    def __init__(self, settings: StageSettings, service: str, registry: SynthesizerRegistry | None = None):
        self.settings = settings
        self.service = service
        self.registry = registry or SynthesizerRegistry.from_installed(prefer_neural_english=settings.tts_neural_english)

    def warm_up(self) -> None:
        if not self.settings.warm_up:
            return
        for _, target in self.settings.warm_up_pair_list():
            try:
                self.registry.synthesizer_for(target).synthesize("Hola.", target)
            except SynthesisError as failure:
                log.warning("warm-up of the %s voice skipped: %s", target, failure)

    async def handle(self, event: Event) -> list[Event]:
        started = utc_now()
        payload = event.payload
        if not isinstance(payload, TextTranslatedPayload):
            raise TypeError(f"tts takes TextTranslatedEvent, got {event.event_type}")
        if payload.error or not payload.options.speaks(payload.target_language) or not payload.text.strip():
            return []
        language = payload.target_language
        try:
            synthesizer = self.registry.synthesizer_for(language)
            speech = await asyncio.to_thread(synthesizer.synthesize, payload.text, language)
            # A room's listeners get Ogg Opus (~15x smaller than the WAV): encoded here, once per utterance and
            # language, not on every gateway for every listener (docs/benchmarks/rooms.md).
            ogg_opus = b""
            if payload.options.room is not None:
                ogg_opus = await asyncio.to_thread(encode_ogg_opus, speech.pcm, speech.sample_rate_hz)
            spoken = AudioSynthesisPayload(
                audio_bytes=wrap_pcm16(speech.pcm, speech.sample_rate_hz),
                sample_rate_hz=speech.sample_rate_hz,
                duration_ms=speech.duration_ms,
                voice=speech.voice,
                engine=speech.engine,
                language=language,
                text=payload.text,
                segment_index=payload.segment_index,
                ogg_opus_bytes=ogg_opus,
            )
        except SynthesisError as failure:
            if isinstance(failure, UnsupportedVoice):
                error = str(failure)  # names the language and the voices there are: nothing internal
            else:
                # The engine's own words (a voice file's path, espeak-ng's stderr) are for the operator only.
                log.warning("session %s segment %d: speech in %s failed: %s", event.correlation_id,
                            payload.segment_index, language, failure)
                error = ENGINE_FAILED
            spoken = AudioSynthesisPayload(
                audio_bytes=b"",
                sample_rate_hz=0,
                duration_ms=0,
                voice="",
                engine="",
                language=language,
                text=payload.text,
                segment_index=payload.segment_index,
                error=error,
            )
        return [event.derive(spoken, stage=self.name, service=self.service, started_at=started)]
