"""TextRecognizedEvent -> one TextTranslatedEvent per target language.

A pair no engine can translate yields an event carrying the error (naming the pair and what is available),
so the client is told instead of left waiting. Empty transcripts (no speech) produce nothing.
"""

from __future__ import annotations

import asyncio
import logging

from babelstream.contracts.events import Event, TextRecognizedPayload, TextTranslatedPayload, utc_now
from babelstream.contracts.topics import ASR_TEXT
from babelstream.engines.mt.base import TranslationError
from babelstream.engines.mt.registry import TranslatorRegistry
from babelstream.stages.settings import StageSettings

log = logging.getLogger(__name__)


class TranslateStage:
    name = "translate"
    input_topic = ASR_TEXT

    def __init__(self, settings: StageSettings, service: str, registry: TranslatorRegistry | None = None):
        self.settings = settings
        self.service = service
        self.registry = registry or TranslatorRegistry.from_installed(opus_models=settings.mt_opus_models)

    def warm_up(self) -> None:
        if not self.settings.warm_up:
            return
        for source, target in self.settings.warm_up_pair_list():
            try:
                self.registry.translator_for(source, target).translate("Hello.", source, target)
            except TranslationError as failure:
                log.warning("warm-up of %s->%s skipped: %s", source, target, failure)

    async def handle(self, event: Event) -> list[Event]:
        payload = event.payload
        if not isinstance(payload, TextRecognizedPayload):
            raise TypeError(f"translate takes TextRecognizedEvent, got {event.event_type}")
        if not payload.text:
            return []
        outputs = []
        for target in payload.options.target_languages:
            started = utc_now()
            text, engine, error = "", "", None
            try:
                translator = self.registry.translator_for(payload.language, target)
                engine = translator.name
                text = await asyncio.to_thread(translator.translate, payload.text, payload.language, target)
            except TranslationError as failure:
                error = str(failure)
            translated = TextTranslatedPayload(
                text=text,
                source_text=payload.text,
                source_language=payload.language,
                target_language=target,
                engine=engine,
                segment_index=payload.segment_index,
                start_ms=payload.start_ms,
                end_ms=payload.end_ms,
                options=payload.options,
                error=error,
            )
            outputs.append(
                event.derive(translated, stage=self.name, service=self.service, started_at=started, id_parts=(target,))
            )
        return outputs
