"""PartialTranscriptEvent -> PartialTranslationEvent: an open utterance's stable text, translated as it grows.

Runs in the translate stage's process, beside its consume loop but apart from it: its own consumer group
(`babelstream.translate-partial`) on `speech.asr.partial`, the stage's translation router, and it translates
only while no final is being translated, so interim work never delays a final translation.

Only the stable text is translated (it never retracts, so neither does what is built on it), only for sessions
that asked (`translate` on the partial, from the start message's `translate_partials`), and at most once every
PARTIAL_TRANSLATION_INTERVAL_MS per session, and only when the stable text gained a word since the last one
translated for its utterance. Under load a waiting partial is replaced by its session's newer one, never queued.

Delivery is at most once, like the partials themselves: a partial translation is worth nothing late, and the
utterance's final translation replaces it anyway (the gateway drops any that arrive after it).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable

from babelstream.bus.base import Bus
from babelstream.bus.event_publisher import EventPublisher
from babelstream.contracts.codec import EventCodec
from babelstream.contracts.events import Event, PartialTranscriptPayload, PartialTranslationPayload, utc_now
from babelstream.contracts.topics import ASR_PARTIAL
from babelstream.engines.asr.local_agreement import words_of
from babelstream.engines.mt.base import TranslationError
from babelstream.engines.mt.router import TranslationRouter
from babelstream.stages.interim_worker import InterimWorker

log = logging.getLogger(__name__)

# Sessions whose last translation is remembered (for the interval and the word rule); past it the oldest is
# forgotten, which at worst lets that session's next partial be translated a little early.
MAX_SESSIONS = 4096


class _Translated:
    """What was last translated for a session: when, for which utterance, how many stable words."""

    __slots__ = ("at", "start_ms", "words")

    def __init__(self, at: float, start_ms: int, words: int):
        self.at = at
        self.start_ms = start_ms
        self.words = words


class PartialTranslator(InterimWorker):
    name = "translate-partial"
    input_topic = ASR_PARTIAL

    def __init__(
        self, bus: Bus, codec: EventCodec, service: str, router: TranslationRouter, *, interval_ms: int,
        finals_busy: Callable[[], bool] = lambda: False, clock: Callable[[], float] = time.monotonic,
    ):
        """finals_busy: whether the translate stage is translating a final now, in which case the worker waits."""
        super().__init__(bus, codec)
        self._service = service
        self._router = router
        self._interval = interval_ms / 1000
        self._finals_busy = finals_busy
        self._clock = clock
        self._publisher = EventPublisher(bus, codec)
        self._last: OrderedDict[str, _Translated] = OrderedDict()
        self._waiting: dict[str, Event] = {}  # the newest untranslated partial of each session
        self._wake = asyncio.Event()
        self.translated = 0  # partials translated (each into every target language)
        self.skipped = 0  # partials replaced by a newer one before their turn

    def take(self, event: Event) -> None:
        """One partial in: kept as its session's next to translate if it asked, and its stable text gained a word."""
        partial = event.payload
        if not isinstance(partial, PartialTranscriptPayload):
            raise TypeError(f"translate-partial takes PartialTranscriptEvent, got {event.event_type}")
        if not partial.translate or not partial.options.target_languages or not partial.stable_text:
            return
        last = self._last.get(event.correlation_id)
        if last is not None and last.start_ms == partial.start_ms and len(words_of(partial.stable_text)) <= last.words:
            return  # nothing new is stable: the translation already sent still says it all
        if self._waiting.pop(event.correlation_id, None) is not None:
            self.skipped += 1
        self._waiting[event.correlation_id] = event
        self._wake.set()

    def _due_in(self, session: str) -> float:
        last = self._last.get(session)
        return 0.0 if last is None else last.at + self._interval - self._clock()

    async def _work(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._waiting:
                while self._finals_busy():
                    await asyncio.sleep(0.005)
                due = {session: self._due_in(session) for session in self._waiting}
                session = min(due, key=due.get)
                if due[session] > 0:
                    # Nothing due yet: sleep until the first is, or until a partial arrives (it may be due at once).
                    try:
                        await asyncio.wait_for(self._wake.wait(), timeout=due[session])
                    except TimeoutError:
                        pass
                    self._wake.clear()
                    continue
                event = self._waiting.pop(session)
                try:
                    await self._translate(event)
                except Exception:  # one bad partial must not stop partial translations for everyone
                    log.exception("translate-partial: failed for %s", event.correlation_id)

    async def _translate(self, event: Event) -> None:
        partial: PartialTranscriptPayload = event.payload
        self._remember(event.correlation_id, partial)
        source = partial.language or partial.options.source_language or ""
        for target in partial.options.target_languages:
            if target == source:
                continue
            started = utc_now()
            try:
                route = self._router.route(source, target)
                result = await asyncio.to_thread(self._router.translate, partial.stable_text, source, target)
            except TranslationError as failure:
                # The final translation says what went wrong, as a warning; an interim one just does not come.
                log.debug("translate-partial: %s->%s for %s: %s", source, target, event.correlation_id, failure)
                continue
            translated = PartialTranslationPayload(
                text=result.text, source_text=partial.stable_text, source_language=source, target_language=target,
                segment_index=partial.segment_index, start_ms=partial.start_ms, end_ms=partial.end_ms,
                options=partial.options, engine=route.engine,
            )
            try:
                await self._publisher.publish(event.derive(
                    translated, stage=self.name, service=self._service, started_at=started, id_parts=(target,)
                ))
            except Exception as failure:  # best effort: the next stable word brings a newer one
                log.debug("translate-partial: result not published: %s", failure)
        self.translated += 1

    def _remember(self, session: str, partial: PartialTranscriptPayload) -> None:
        self._last[session] = _Translated(self._clock(), partial.start_ms, len(words_of(partial.stable_text)))
        self._last.move_to_end(session)
        if len(self._last) > MAX_SESSIONS:
            self._last.popitem(last=False)
