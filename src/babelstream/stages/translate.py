"""TextRecognizedEvent -> one TextTranslatedEvent per target language.

Each pair takes the path the router picked for it (a direct engine, or two through a pivot language; see
engines/mt/router.py), and the event names that path: `engine` ("bergamot+apertium") and `via` ("pt").
A pair no path can translate yields an event carrying the error (naming the pair and what is available),
so the client is told instead of left waiting; so does an engine that fails, with a reason free of its internals
(the details are logged with the correlation id). Empty transcripts (no speech) produce nothing.
"""

from __future__ import annotations

import asyncio
import logging

from babelstream.contracts.events import Event, TextRecognizedPayload, TextTranslatedPayload, utc_now
from babelstream.contracts.topics import ASR_TEXT
from babelstream.engines.mt.base import TranslationError, UnsupportedPair
from babelstream.engines.mt.router import TranslationRouter
from babelstream.stages.settings import StageSettings

log = logging.getLogger(__name__)

# What the client reads (a warning's reason) when an engine fails; the details go to the log.
ENGINE_FAILED = "the translation engine failed on this sentence"


def router_from_settings(settings: StageSettings) -> TranslationRouter:
    return TranslationRouter.from_installed(
        opus_models=settings.mt_opus_models,
        routes=settings.mt_routes,
        quality_table=settings.mt_quality_table,
        quality_floor=settings.mt_quality_floor,
    )


class TranslateStage:
    name = "translate"
    input_topic = ASR_TEXT

    def __init__(self, settings: StageSettings, service: str, router: TranslationRouter | None = None):
        self.settings = settings
        self.service = service
        self.router = router or router_from_settings(settings)
        self.busy = 0  # finals being translated now: the partial translator (partial_translate.py) waits while any are

    @property
    def registry(self) -> TranslationRouter:
        """What the platform hands to InstalledCapabilities, so /api/languages lists the router's pairs."""
        return self.router

    def warm_up(self) -> None:
        if not self.settings.warm_up:
            return
        for source, target in self.settings.warm_up_pair_list():
            try:
                route = self.router.route(source, target)
                self.router.translate("Hello.", source, target)
                log.info("%s->%s takes %s (%s)", source, target, route.path, route.engine)
            except TranslationError as failure:
                log.warning("warm-up of %s->%s skipped: %s", source, target, failure)

    async def handle(self, event: Event) -> list[Event]:
        payload = event.payload
        if not isinstance(payload, TextRecognizedPayload):
            raise TypeError(f"translate takes TextRecognizedEvent, got {event.event_type}")
        if not payload.text:
            return []
        self.busy += 1
        try:
            return await self._translated(event, payload)
        finally:
            self.busy -= 1

    async def _translated(self, event: Event, payload: TextRecognizedPayload) -> list[Event]:
        outputs = []
        for target in payload.options.target_languages:
            started = utc_now()
            text, engine, via, error = "", "", None, None
            try:
                route = self.router.route(payload.language, target)
                engine, via = route.engine, route.via
                result = await asyncio.to_thread(self.router.translate, payload.text, payload.language, target)
                text = result.text
            except UnsupportedPair as failure:
                error = str(failure)  # names the pair and what is available: useful, and nothing internal
            except TranslationError as failure:
                # The engine's own words (Apertium's stderr, a model's path) are for the operator, not the client.
                log.warning("session %s segment %d: %s->%s failed: %s", event.correlation_id, payload.segment_index,
                            payload.language, target, failure)
                error = ENGINE_FAILED
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
                via=via,
            )
            outputs.append(
                event.derive(translated, stage=self.name, service=self.service, started_at=started, id_parts=(target,))
            )
        return outputs
