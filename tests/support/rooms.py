"""Room listeners for tests: each collects what it is sent, and results a stage would publish, made by hand."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field

from babelstream.client.connection import Refused
from babelstream.client.listen import ListenConnection
from babelstream.client.messages import Audio
from babelstream.contracts.events import (
    AudioSynthesisPayload,
    Event,
    PartialTranscriptPayload,
    PartialTranslationPayload,
    SessionOptions,
    StageTiming,
    TextRecognizedPayload,
    TextTranslatedPayload,
    utc_now,
)


@dataclass
class Heard:
    """What one listener got: every message (audio_b64 dropped; a spoken translation's file as "audio_file", from
    a binary frame or base64 alike), and how its socket closed."""

    messages: list[dict] = field(default_factory=list)
    close_code: int | None = None
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def of_type(self, kind: str, *, history: bool | None = None) -> list[dict]:
        return [
            m for m in self.messages
            if m.get("type") == kind and (history is None or m.get("history") is history)
        ]

    async def wait_for(self, predicate, timeout: float = 30.0) -> dict:
        async def first() -> dict:
            while True:
                for message in self.messages:
                    if predicate(message):
                        return message
                self.arrived.clear()
                await self.arrived.wait()

        return await asyncio.wait_for(first(), timeout)


class RoomListener:
    """A listener reading in the background: `heard` fills as messages arrive."""

    def __init__(self, connection: ListenConnection | None, heard: Heard):
        self.connection = connection
        self.heard = heard
        self._task: asyncio.Task | None = None

    @classmethod
    async def join(cls, address: str, room: str, language: str, **options) -> RoomListener:
        heard = Heard()
        try:
            connection = await ListenConnection.open(f"ws://{address}", room=room, language=language, **options)
        except Refused as refused:
            heard.messages.append(refused.error.data)
            heard.close_code = refused.close_code
            return cls(None, heard)
        heard.messages.append(connection.connected.data)
        listener = cls(connection, heard)
        listener._task = asyncio.create_task(listener._read())
        return listener

    async def _read(self) -> None:
        async for message in self.connection.messages():
            data = dict(message.data)
            data.pop("audio_b64", None)
            if isinstance(message, Audio):
                data["audio_file"] = message.audio
            self.heard.messages.append(data)
            self.heard.arrived.set()
        self.heard.close_code = self.connection.close_code
        self.heard.arrived.set()

    async def leave(self) -> None:
        if self.connection is not None:
            await self.connection.close()
        if self._task is not None:
            await asyncio.wait_for(self._task, 10)


def room_results(room: str, *, segment: int = 0, speaker: str | None = None, source: str = "en",
                 targets: tuple[str, ...] = ("es", "pt"), text: str = "The house is big.",
                 audio_bytes: int = 1000, ogg_opus: bytes = b"", reply_partition: int = 0) -> list[Event]:
    """One utterance's results as the stages publish them: transcript, a translation per target, and its audio
    (`ogg_opus`: what the tts stage encodes for a room's listeners), routed to the room's reply partition (the
    in-memory bus has one: 0)."""
    speaker = speaker or str(uuid.uuid4())
    options = SessionOptions(source_language=source, target_languages=targets, room=room, spoken_languages=targets)
    now = utc_now()
    trail = (StageTiming("gateway", "gateway-test", now, now),)
    span = dict(segment_index=segment, start_ms=segment * 2000, end_ms=segment * 2000 + 1500, options=options)
    events = [Event(
        payload=TextRecognizedPayload(text=text, language=source, confidence=0.9, **span),
        correlation_id=speaker, source_service="asr", timings=trail,
        reply_partition=reply_partition,
    )]
    for target in targets:
        words = f"[{target}] {text}"
        events.append(Event(
            payload=TextTranslatedPayload(text=words, source_text=text, source_language=source,
                                          target_language=target, engine="test", **span),
            correlation_id=speaker, source_service="translate", timings=trail,
            reply_partition=reply_partition,
        ))
        events.append(Event(
            payload=AudioSynthesisPayload(audio_bytes=b"RIFF" + b"\0" * audio_bytes, sample_rate_hz=22050,
                                          duration_ms=1000, voice=target, engine="test", language=target,
                                          text=words, segment_index=segment, ogg_opus_bytes=ogg_opus),
            correlation_id=speaker, source_service="tts", timings=trail,
            reply_partition=reply_partition,
        ))
    return events


def room_partials(room: str, *, speaker: str, stable: str, unstable: str = "", segment: int = 0,
                  source: str = "en", targets: tuple[str, ...] = (), reply_partition: int = 0) -> list[Event]:
    """An interim result of a room speaker's open utterance (the one `room_results` with the same `segment` ends) as
    the ASR stage's partial worker publishes it, then its stable text translated into each of `targets` ("[pt] ...")
    as the translate stage's partial worker does."""
    options = SessionOptions(source_language=source, target_languages=targets, room=room)
    span = dict(segment_index=segment, start_ms=segment * 2000, end_ms=segment * 2000 + 1000, options=options)
    events = [Event(
        payload=PartialTranscriptPayload(stable_text=stable, unstable_text=unstable, language=source, translate=True,
                                         **span),
        correlation_id=speaker, source_service="asr-partial", reply_partition=reply_partition,
    )]
    for target in targets:
        events.append(Event(
            payload=PartialTranslationPayload(text=f"[{target}] {stable}", source_text=stable, source_language=source,
                                              target_language=target, engine="test", **span),
            correlation_id=speaker, source_service="translate-partial", reply_partition=reply_partition,
        ))
    return events
