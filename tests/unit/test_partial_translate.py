"""The partial translator on the in-memory bus, with a recording translator in place of an engine: what it
translates (stable text only, for sessions that asked), how often (the interval, a new word), and that it waits
while a final is being translated."""

from __future__ import annotations

import asyncio

from babelstream.bus.memory import MemoryBus
from babelstream.contracts.codec import SingleObjectCodec
from babelstream.contracts.events import (
    Event,
    PartialTranscriptPayload,
    PartialTranslationPayload,
    SessionOptions,
    TextRecognizedPayload,
)
from babelstream.contracts.topics import ASR_PARTIAL, TRANSLATION_PARTIAL
from babelstream.engines.mt.router import Route
from babelstream.gateway.partials import PartialResults
from babelstream.stages.partial_translate import PartialTranslator

OPTIONS = SessionOptions("en", ("es", "pt"))
CODEC = SingleObjectCodec()


class RecordingRouter:
    def __init__(self):
        self.calls: list[tuple[str, str]] = []

    def route(self, source: str, target: str) -> Route:
        return Route((source, target), ("fake",))

    def translate(self, text: str, source: str, target: str):
        self.calls.append((text, target))

        class Result:
            pass

        result = Result()
        result.text = f"{target}:{text}"
        return result


class Clock:
    now = 100.0

    def __call__(self) -> float:
        return self.now


def partial(stable: str, *, unstable: str = " and more", start_ms: int = 0, translate: bool = True,
            correlation_id: str = "c") -> Event:
    return Event(
        payload=PartialTranscriptPayload(
            stable_text=stable, unstable_text=unstable, segment_index=0, start_ms=start_ms, end_ms=start_ms + 2000,
            options=OPTIONS, language="en", translate=translate,
        ),
        correlation_id=correlation_id, source_service="asr",
    )


async def run(events: list[Event], *, clock: Clock | None = None, busy=lambda: False, between=None):
    bus = MemoryBus()
    router = RecordingRouter()
    worker = PartialTranslator(bus, CODEC, "translate-partial-test", router, interval_ms=1000, finals_busy=busy,
                               clock=clock or Clock())
    out = await bus.subscribe([TRANSLATION_PARTIAL], "test")
    await worker.start()
    for event in events:
        await bus.publish(ASR_PARTIAL, event.correlation_id.encode(), CODEC.encode(event, ASR_PARTIAL))
        await asyncio.sleep(0.05)
        if between is not None:
            between()
    await asyncio.sleep(0.1)
    await worker.stop()
    results = []
    while (message := await out.next(timeout_seconds=0.01)) is not None:
        results.append(CODEC.decode(message.value).payload)
    return router, worker, results


async def test_the_stable_text_is_translated_into_every_target_and_the_unstable_words_never_are():
    router, _, results = await run([partial("We walked along the")])
    assert router.calls == [("We walked along the", "es"), ("We walked along the", "pt")]
    assert [(r.target_language, r.text, r.source_text) for r in results] == [
        ("es", "es:We walked along the", "We walked along the"), ("pt", "pt:We walked along the", "We walked along the")
    ]
    assert all(isinstance(r, PartialTranslationPayload) and r.engine == "fake" and r.start_ms == 0 for r in results)


async def test_nothing_is_translated_for_a_session_that_did_not_ask_or_without_stable_text():
    router, _, results = await run([partial("We walked", translate=False), partial("", unstable="We walked")])
    assert router.calls == [] and results == []


async def test_at_most_one_per_interval_and_only_when_the_stable_text_gained_a_word():
    clock = Clock()
    ticks = iter([0.3, 0.3, 0.5, 1.2, 0.1])

    def tick():
        clock.now += next(ticks, 0.0)

    router, worker, _ = await run([
        partial("We walked"),  # translated at once
        partial("We walked"),  # no new word: nothing to do
        partial("We walked along"),  # a new word, but 0.6 s after the last: waits...
        partial("We walked along the"),  # ...and is replaced by this newer one, translated at 1.1 s
        partial("We walked along the beach"),  # 1.2 s later: due
    ], clock=clock, between=tick)
    translated = [text for text, target in router.calls if target == "es"]
    assert translated == ["We walked", "We walked along the", "We walked along the beach"], translated
    assert worker.skipped == 1


async def test_a_new_utterance_of_the_same_session_waits_for_the_interval_too():
    clock = Clock()
    router, _, _ = await run([partial("We walked"), partial("Then we", start_ms=9000)], clock=clock)
    assert [text for text, target in router.calls if target == "es"] == ["We walked"]


async def test_it_waits_while_a_final_is_being_translated():
    busy = [True]
    router, _, _ = await run([partial("We walked")], busy=lambda: busy[0])
    assert router.calls == []
    busy[0] = False
    router, _, _ = await run([partial("We walked")], busy=lambda: busy[0])
    assert router.calls


def translation(source: str, *, start_ms: int = 0, language: str = "es") -> PartialTranslationPayload:
    return PartialTranslationPayload(
        text=f"{language}:{source}", source_text=source, source_language="en", target_language=language,
        segment_index=0, start_ms=start_ms, end_ms=start_ms + 2000, options=OPTIONS,
    )


def test_the_gateway_passes_a_partial_translation_only_while_its_utterance_is_open_and_it_says_more():
    results = PartialResults()
    assert results.accept_translation(translation("We walked"))
    assert results.accept_translation(translation("We walked", language="pt"))  # each language on its own
    assert not results.accept_translation(translation("We walked"))  # the same again
    assert not results.accept_translation(translation("We"))  # older, arriving late
    assert results.accept_translation(translation("We walked along"))
    results.finished(TextRecognizedPayload(
        text="We walked along the beach.", language="en", confidence=0.9, segment_index=0, start_ms=0, end_ms=3000,
        options=OPTIONS,
    ))
    assert not results.accept_translation(translation("We walked along the"))  # after its transcript: never
    assert results.accept_translation(translation("Then", start_ms=5000))
