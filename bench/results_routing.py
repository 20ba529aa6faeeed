"""Bytes of results each gateway reads, as gateways go from 1 to 8: every result (before) or its own (now).

Each "gateway" here is what a gateway process runs to read results, on a real broker, all in this one process:
- `before`: what gateway/router.py did until reply routing, a consumer group of its own on every result topic
  (speech.asr.text, speech.translation.text, speech.tts.audio, speech.asr.partial), so every result reaches it;
- `hashed`: the ResultRouter as shipped, reply partition from its instance id's hash (GATEWAY_REPLY_PARTITION=-1);
- `numbered`: the same with GATEWAY_REPLY_PARTITION=i for gateway i (an operator who numbers its gateways).
Each gateway holds SESSIONS sessions; for each, UTTERANCES utterances' results are published synthetically as
the stages publish them (EventPublisher, so the reply copies and partitions are the real ones): a transcript, a
translation, its spoken audio (AUDIO_BYTES) and two partials. Results are events without a reply partition in
`before` (what the stages published then), routed by the owning gateway's router otherwise. Once every
gateway's own sessions have every result and the counts are still for a second, the bytes each one's consumer
handed over (keys and values) are read. The broker-side bytes written are printed too (the text copies).

    scripts/kafka.sh start   # or any broker: --kafka H:P (topics are created with the platform's settings)
    .venv/bin/python bench/results_routing.py --kafka 127.0.0.1:9092
    .venv/bin/python bench/results_routing.py --gateways 1 2 4 8 --sessions 4 --utterances 3

Figures and the load they were taken under: docs/benchmarks/results-routing.md.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid

from babelstream.bus.event_publisher import EventPublisher
from babelstream.bus.kafka import KafkaBus
from babelstream.bus.reply_route import destinations
from babelstream.bus.settings import BusSettings
from babelstream.contracts.codec import SingleObjectCodec
from babelstream.contracts.events import (
    AudioSynthesisPayload,
    Event,
    PartialTranscriptPayload,
    SessionOptions,
    TextRecognizedPayload,
    TextTranslatedPayload,
)
from babelstream.contracts.topics import ASR_PARTIAL, ASR_TEXT, TRANSLATION_TEXT, TTS_AUDIO
from babelstream.gateway.router import ResultRouter

CODEC = SingleObjectCodec()
OLD_RESULT_TOPICS = [ASR_TEXT, TRANSLATION_TEXT, TTS_AUDIO, ASR_PARTIAL]
EVENTS_PER_UTTERANCE = 5


def utterance(session: str, index: int, audio_bytes: int) -> list[Event]:
    options = SessionOptions(source_language="en", target_languages=("es",))
    span = dict(segment_index=index, start_ms=index * 3000, end_ms=index * 3000 + 2500, options=options)
    text = "The results of this sentence go back to the gateway that holds its session."
    partial = lambda n, stable: Event(  # noqa: E731
        payload=PartialTranscriptPayload(stable_text=stable, window_index=n, **span),
        correlation_id=session, source_service="asr")
    return [
        partial(0, text[:30]),
        partial(1, text[:60]),
        Event(payload=TextRecognizedPayload(text=text, language="en", confidence=0.9, **span),
              correlation_id=session, source_service="asr"),
        Event(payload=TextTranslatedPayload(text=f"[es] {text}", source_text=text, source_language="en",
                                            target_language="es", engine="bench", **span),
              correlation_id=session, source_service="translate"),
        Event(payload=AudioSynthesisPayload(audio_bytes=b"RIFF" + bytes(audio_bytes), sample_rate_hz=22050,
                                            duration_ms=2000, voice="es", engine="bench", language="es",
                                            text=f"[es] {text}", segment_index=index),
              correlation_id=session, source_service="tts"),
    ]


class Counting:
    def __init__(self):
        self.results = 0

    def on_result(self, event: Event) -> None:
        self.results += 1


class BeforeGateway:
    """The old reading: every result topic, a consumer group of its own, from the end."""

    def __init__(self, bus: KafkaBus, name: str):
        self._bus = bus
        self._name = name
        self.listeners: dict[str, Counting] = {}
        self.fetched_bytes = 0
        self.messages = 0

    async def start(self) -> None:
        self._subscription = await self._bus.subscribe(OLD_RESULT_TOPICS, f"babelstream.{self._name}", from_latest=True)
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        while True:
            message = await self._subscription.next(timeout_seconds=1.0)
            if message is None:
                continue
            self.fetched_bytes += len(message.value) + len(message.key or b"")
            self.messages += 1
            listener = self.listeners.get(message.key.decode())
            if listener is not None:  # what the old router did: decode only for a session of its own
                listener.on_result(CODEC.decode(message.value))

    def register(self, session: str, listener: Counting) -> None:
        self.listeners[session] = listener

    def stamp(self, events: list[Event]) -> list[Event]:
        return events  # the stages published results by key only

    async def stop(self) -> None:
        self._task.cancel()
        await self._subscription.close()


class RoutedGateway:
    """The ResultRouter as the gateway runs it."""

    def __init__(self, bus: KafkaBus, name: str, partition: int):
        self.router = ResultRouter(bus, CODEC, name, reply_partition=partition)

    async def start(self) -> None:
        await self.router.start()

    @property
    def fetched_bytes(self) -> int:
        return self.router.fetched_bytes

    def register(self, session: str, listener: Counting) -> None:
        self.router.register(session, listener)

    def stamp(self, events: list[Event]) -> list[Event]:
        partition = self.router.route(events[2]).reply_partition  # as the session's segment was stamped
        return [event.routed_to(partition) for event in events]

    async def stop(self) -> None:
        await self.router.stop()


async def run_once(bus: KafkaBus, mode: str, gateways: int, sessions: int, utterances: int, audio_bytes: int) -> dict:
    run = uuid.uuid4().hex[:8]
    if mode == "before":
        readers = [BeforeGateway(bus, f"bench-{run}-{i}") for i in range(gateways)]
    else:
        readers = [RoutedGateway(bus, f"gateway-{run}-{i}", i if mode == "numbered" else -1) for i in range(gateways)]
    for reader in readers:
        await reader.start()
    owned: list[tuple[object, str, Counting]] = []
    for reader in readers:
        for _ in range(sessions):
            session, listener = str(uuid.uuid4()), Counting()
            reader.register(session, listener)
            owned.append((reader, session, listener))
    publisher = EventPublisher(bus, CODEC)
    written = 0
    own = {id(reader): 0 for reader in readers}  # its own sessions' results, where it reads them
    for index in range(utterances):
        sends = []
        for reader, session, _ in owned:
            for event in reader.stamp(utterance(session, index, audio_bytes)):
                for d in destinations(event):
                    size = len(CODEC.encode(event, d.topic)) + len(session)
                    written += size
                    if mode == "before" or d.partition is not None:
                        own[id(reader)] += size
                sends.append(publisher.publish(event))
        await asyncio.gather(*sends)
    expected = utterances * EVENTS_PER_UTTERANCE
    deadline = time.monotonic() + 120
    while any(listener.results < expected for _, _, listener in owned):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{mode} x{gateways}: results missing")
        await asyncio.sleep(0.1)
    last = None
    while (now := [reader.fetched_bytes for reader in readers]) != last:  # still for a second: all fetched
        last = now
        await asyncio.sleep(1.0)
    for reader in readers:
        await reader.stop()
    if mode != "before":
        partitions = [reader.router.partitions.own for reader in readers]
        shared = len(partitions) - len(set(partitions))
    else:
        shared = gateways - 1
    return {"per_gateway": last, "written": written, "shared": shared, "own": statistics.median(own.values())}


def describe(values: list[int]) -> str:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return f"{statistics.median(ordered) / 1e6:7.2f} {p90 / 1e6:7.2f} {ordered[-1] / 1e6:7.2f}"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kafka", default="127.0.0.1:9092")
    parser.add_argument("--gateways", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--sessions", type=int, default=4, help="sessions per gateway")
    parser.add_argument("--utterances", type=int, default=3, help="utterances per session")
    parser.add_argument("--audio-bytes", type=int, default=48_000, help="spoken audio per utterance")
    parser.add_argument("--modes", nargs="+", default=["before", "hashed", "numbered"])
    args = parser.parse_args()
    bus = KafkaBus(BusSettings(bus="kafka", kafka_bootstrap_servers=args.kafka), client_id="bench-routing")
    await bus.start()
    reply_partitions = await bus.partition_count(TTS_AUDIO)
    print(f"broker {args.kafka}; reply topics with {reply_partitions} partitions; {args.sessions} sessions per gateway, "
          f"{args.utterances} utterances each ({EVENTS_PER_UTTERANCE} results, {args.audio_bytes} B of audio)")
    print("MB each gateway's consumer handed over: median, P90, max over the gateways; ratio = median / the same mode "
          "with the fewest gateways; own = its own sessions' results (median); shared = gateways reading a partition "
          "another one reads too; written = bytes the publishers wrote, copies included")
    print(f"{'gateways':>8} {'mode':>9} {'median':>7} {'P90':>7} {'max':>7} {'ratio':>6} {'own':>6} "
          f"{'shared':>6} {'written MB':>10}")
    reference: dict[str, float] = {}
    try:
        for gateways in args.gateways:
            for mode in args.modes:
                outcome = await run_once(bus, mode, gateways, args.sessions, args.utterances, args.audio_bytes)
                median = statistics.median(outcome["per_gateway"])
                reference.setdefault(mode, median)
                print(f"{gateways:>8} {mode:>9} {describe(outcome['per_gateway'])} {median / reference[mode]:6.2f} "
                      f"{outcome['own'] / 1e6:6.2f} {outcome['shared']:>6} {outcome['written'] / 1e6:10.2f}", flush=True)
    finally:
        await bus.stop()


if __name__ == "__main__":
    asyncio.run(main())
