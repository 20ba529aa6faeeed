"""A small fake stage and the helpers to drive a StageRunner on the in-memory bus (stage runtime and metrics tests)."""

from __future__ import annotations

import asyncio
import time

from babelstream.contracts.codec import SingleObjectCodec
from babelstream.contracts.events import (
    Event,
    SessionOptions,
    TextRecognizedPayload,
    TextTranslatedPayload,
    utc_now,
)
from babelstream.contracts.topics import ASR_TEXT

CODEC = SingleObjectCodec()


class FakeTranslateStage:
    """Upper-cases the text into one TextTranslatedEvent per target; raises on the text "boom"."""

    name = "fake-translate"
    input_topic = ASR_TEXT

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.warmed = False

    def warm_up(self) -> None:
        self.warmed = True

    async def handle(self, event: Event) -> list[Event]:
        payload = event.payload
        self.seen.append(event.event_id)
        if payload.text == "boom":
            raise RuntimeError("the fake stage exploded")
        started = utc_now()
        return [
            event.derive(
                TextTranslatedPayload(
                    text=payload.text.upper(), source_text=payload.text, source_language=payload.language,
                    target_language=target, engine="upper", segment_index=payload.segment_index,
                    start_ms=payload.start_ms, end_ms=payload.end_ms, options=payload.options,
                ),
                stage=self.name, service="fake-1", started_at=started, id_parts=(target,),
            )
            for target in payload.options.target_languages
        ]


def recognized(text: str, correlation_id: str = "session-1", targets: tuple[str, ...] = ("en",)) -> Event:
    return Event(
        payload=TextRecognizedPayload(
            text=text, language="de", confidence=0.875, segment_index=0, start_ms=0, end_ms=1000,
            options=SessionOptions(target_languages=targets),
        ),
        correlation_id=correlation_id,
        source_service="asr-1",
    )


async def send(bus, event: Event) -> None:
    await bus.publish(ASR_TEXT, event.correlation_id.encode(), CODEC.encode(event, ASR_TEXT))


async def collect(subscription, count: int, timeout: float = 10.0) -> list[Event]:
    found = []
    deadline = time.monotonic() + timeout
    while len(found) < count and time.monotonic() < deadline:
        message = await subscription.next(timeout_seconds=0.1)
        if message is not None:
            found.append(CODEC.decode(message.value))
    return found


async def wait_until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)
