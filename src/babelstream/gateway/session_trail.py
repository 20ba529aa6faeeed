"""What the bus holds of one session: the utterances its gateway published and the results they got so far.

A resumed session (docs/protocol.md, "Resuming a session") is rebuilt from this, on whichever gateway the client
came back to: every event of a session is keyed by its correlation id, so each topic's share of it is on one
partition. The trail is read from when the session started (the token says when) to the end of each partition as it
is now; what is published after that reaches the resumed session the ordinary way, through the ResultRouter.

`read_session_results` is the one place that says which result topics are read back and how. They are the reply
topics read whole for one key, not through this gateway's reply partitions; what is still to come arrives on the reply partition the session's segments were
routed to (`SessionTrail.reply_partition`), which the resumed session's gateway reads too (`ResultRouter.adopt`).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field

from babelstream.bus.base import Bus, Message
from babelstream.contracts.codec import EventCodec
from babelstream.contracts.errors import ContractError
from babelstream.contracts.events import Event, SpeechSegmentPayload
from babelstream.contracts.topics import ASR_TEXT_REPLIES, SPEECH_SEGMENT, TRANSLATION_TEXT_REPLIES, TTS_AUDIO

# The results a resumed session is given again (not partials: they are superseded by the transcript), where the
# gateways read them: the reply topics (bus/reply_route.py), every partition, for this one key. (Not the text
# results' originals: the next stage's group commits them as it goes, which trims them on the in-memory bus.)
REPLAYED_RESULT_TOPICS = (ASR_TEXT_REPLIES, TRANSLATION_TEXT_REPLIES, TTS_AUDIO)
# A partition is read to its end as it was when the read began; while that cannot be told (a partition with nothing
# since the session started has no position yet), a read that has been quiet this long has reached the end.
_QUIET_SECONDS = 1.0
# How far results of one kind may come out of their partition's order on their way to the client: far more than the
# ASR stage's workers and batches (2 and 8 by default) and a speculation held back can swap.
_REORDER_MARGIN = 64
# Events written a little before the session's start (clocks of two machines) are read too.
_CLOCK_SLACK_SECONDS = 30.0


@dataclass(frozen=True)
class PublishedSegment:
    index: int
    start_ms: int
    end_ms: int


@dataclass
class SessionTrail:
    segments: list[PublishedSegment] = field(default_factory=list)  # in the order published
    results: list[Event] = field(default_factory=list)  # in the order each topic holds them
    # Where its gateway routed its results (its last segment's reply partition): results still to come arrive there.
    reply_partition: int | None = None

    def live_segments(self) -> list[PublishedSegment]:
        """The published segments the session stands by: a speculation later withdrawn (gateway/speculation.py) was
        published with its utterance's start, and that utterance was published again, whole, under a later index."""
        last_of_start: dict[int, int] = {}
        for segment in self.segments:
            last_of_start[segment.start_ms] = max(segment.index, last_of_start.get(segment.start_ms, -1))
        return sorted(
            (s for s in self.segments if last_of_start[s.start_ms] == s.index), key=lambda s: s.index
        )

    def withdrawn(self) -> set[int]:
        """Withdrawn speculations' indexes, told by their start from the segments and from the results: a segment
        topic may no longer hold what its consumers committed (the in-memory bus trims it), its results still say
        which utterance they were of."""
        last_of_start: dict[int, int] = {}
        for index, start_ms in self._starts():
            last_of_start[start_ms] = max(index, last_of_start.get(start_ms, -1))
        return {index for index, start_ms in self._starts() if last_of_start[start_ms] != index}

    def _starts(self):
        for segment in self.segments:
            yield segment.index, segment.start_ms
        for result in self.results:
            start_ms = getattr(result.payload, "start_ms", None)
            if start_ms is not None:
                yield result.payload.segment_index, start_ms

    def had_by_client(self, received: frozenset[str]) -> set[str]:
        """The ids of the results the client has, by what it lists in `received` (its newest, at most
        MAX_RESUME_RECEIVED): those, and the results long before the oldest of them, which it had too. So a long
        talk resumed is not sent again from its first sentence. Results of one kind reach the client in about the
        order their reply partition holds them (one outbox, first in first out); "about": the ASR stage's workers
        and a speculation's commit may swap a few neighbours, so only results `_REORDER_MARGIN` places or more
        before the oldest listed one, in the same partition and kind, count as had. A client that lists nothing
        is sent everything."""
        had = {event.event_id for event in self.results if event.event_id in received}
        order: dict[tuple[str, int | None], list[Event]] = {}
        for event in self.results:
            order.setdefault((event.event_type, event.reply_partition), []).append(event)
        for events in order.values():
            first_listed = next((n for n, event in enumerate(events) if event.event_id in received), None)
            if first_listed is not None:
                had.update(event.event_id for event in events[: max(0, first_listed - _REORDER_MARGIN)])
        return had

    @property
    def next_index(self) -> int:
        indexes = [s.index for s in self.segments] + [r.payload.segment_index for r in self.results]
        return max(indexes, default=-1) + 1

    @property
    def published_ms(self) -> int:
        """Where the audio published so far ends, on the session's timeline."""
        ends = [s.end_ms for s in self.segments] + [r.payload.end_ms for r in self.results
                                                    if hasattr(r.payload, "end_ms")]
        return max(ends, default=0)


async def read_session_trail(bus: Bus, codec: EventCodec, correlation_id: str, started_at: float) -> SessionTrail:
    """The session's published segments and its results, from the bus, as they are now."""
    segments, results = await asyncio.gather(  # side by side: each read waits for its partitions' ends
        _read_back(bus, codec, correlation_id, started_at, [SPEECH_SEGMENT]),
        read_session_results(bus, codec, correlation_id, started_at),
    )
    trail = SessionTrail(results=results)
    for event in segments:
        payload = event.payload
        if isinstance(payload, SpeechSegmentPayload):
            trail.segments.append(PublishedSegment(payload.segment_index, payload.start_ms, payload.end_ms))
            trail.reply_partition = event.reply_partition
    return trail


async def read_session_results(bus: Bus, codec: EventCodec, correlation_id: str, started_at: float) -> list[Event]:
    """Every result event the session's utterances got so far, from the result topics read whole for this one key
    (a gateway's own reading is by reply partition: gateway/router.py)."""
    return await _read_back(bus, codec, correlation_id, started_at, list(REPLAYED_RESULT_TOPICS))


async def _read_back(bus: Bus, codec: EventCodec, correlation_id: str, started_at: float,
                     topics: list[str]) -> list[Event]:
    key = correlation_id.encode()
    since = max(0.0, time.time() - started_at) + _CLOCK_SLACK_SECONDS
    # A group of its own, read once and forgotten: it commits nothing.
    subscription = await bus.subscribe(
        topics, f"babelstream.resume.{uuid.uuid4().hex}", since_seconds=since, ephemeral=True
    )
    events: list[Event] = []
    try:
        quiet_since = time.monotonic()
        while True:
            message = await subscription.next(timeout_seconds=0.2)
            if message is not None:
                quiet_since = time.monotonic()
                if message.key == key:
                    event = _decoded(codec, message)
                    if event is not None:
                        events.append(event)
                continue
            lags = await subscription.lags()
            if (lags and not any(lags.values())) or time.monotonic() - quiet_since >= _QUIET_SECONDS:
                return events
    finally:
        await subscription.close()


def _decoded(codec: EventCodec, message: Message) -> Event | None:
    try:
        return codec.decode(message.value)
    except ContractError:
        return None  # the stages sent it to the dead letters already; nothing to give the client
