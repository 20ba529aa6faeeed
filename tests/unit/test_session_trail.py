"""A session read back from the bus (the in-memory one): its published utterances and results, nobody else's, and
what a resume makes of them: the next index, where the published audio ends, the withdrawn speculations."""

from __future__ import annotations

import time

from babelstream.bus.event_publisher import EventPublisher
from babelstream.bus.memory import MemoryBus
from babelstream.contracts.codec import SingleObjectCodec
from babelstream.contracts.events import Event, SessionOptions, SpeechSegmentPayload, TextRecognizedPayload
from babelstream.gateway.session_trail import read_session_trail

CODEC = SingleObjectCodec()
OPTIONS = SessionOptions("en", ("es",))


async def publish(bus, session: str, payload) -> Event:
    """As the gateway and the stages publish: routed to the dead gateway's reply partition (the only one here)."""
    event = Event(payload=payload, correlation_id=session, source_service="gateway-dead", reply_partition=0)
    await EventPublisher(bus, CODEC).publish(event)
    return event


def segment(index: int, start_ms: int, end_ms: int) -> SpeechSegmentPayload:
    return SpeechSegmentPayload(audio_bytes=b"RIFF", sample_rate_hz=16000, segment_index=index, start_ms=start_ms,
                                end_ms=end_ms, options=OPTIONS)


def transcript(index: int, start_ms: int, end_ms: int, text: str = "Hi.") -> TextRecognizedPayload:
    return TextRecognizedPayload(text=text, language="en", confidence=0.9, segment_index=index, start_ms=start_ms,
                                 end_ms=end_ms, options=OPTIONS)


async def test_the_trail_holds_the_sessions_utterances_and_results_only():
    bus = MemoryBus()
    await publish(bus, "s-1", segment(0, 100, 1600))
    await publish(bus, "s-2", segment(0, 0, 9000))  # another session's, on the same topic
    said = await publish(bus, "s-1", transcript(0, 100, 1600))
    await publish(bus, "s-1", segment(1, 2400, 3000))  # a speculation: withdrawn, the speaker went on
    await publish(bus, "s-1", segment(2, 2400, 5300))  # ...and the utterance published whole
    trail = await read_session_trail(bus, CODEC, "s-1", started_at=time.time() - 10)
    assert [(s.index, s.start_ms, s.end_ms) for s in trail.segments] == [(0, 100, 1600), (1, 2400, 3000),
                                                                          (2, 2400, 5300)]
    assert [e.event_id for e in trail.results] == [said.event_id]
    assert [s.index for s in trail.live_segments()] == [0, 2] and trail.withdrawn() == {1}
    assert (trail.next_index, trail.published_ms) == (3, 5300)
    assert trail.reply_partition == 0  # where what is still to come arrives: the resumed session reads it too


async def test_an_empty_trail_starts_at_zero_and_the_read_back_holds_no_log_back():
    bus = MemoryBus()
    trail = await read_session_trail(bus, CODEC, "s-1", started_at=time.time())
    assert (trail.segments, trail.results, trail.next_index, trail.published_ms) == ([], [], 0, 0)
    await publish(bus, "s-1", segment(0, 0, 1000))
    # Its groups are gone with the read: nothing keeps the topics' logs from being trimmed.
    assert not [name for name in bus._groups if name.startswith("babelstream.resume.")]


async def test_results_alone_tell_the_next_index_when_the_segments_were_trimmed():
    bus = MemoryBus()
    await publish(bus, "s-1", transcript(4, 9000, 11000))
    trail = await read_session_trail(bus, CODEC, "s-1", started_at=time.time())
    assert (trail.next_index, trail.published_ms) == (5, 11000)


async def test_results_alone_tell_a_withdrawn_speculation_when_its_segments_were_trimmed():
    # The in-memory bus trims what ASR committed: the segments are gone, their transcripts say which utterance.
    bus = MemoryBus()
    await publish(bus, "s-1", transcript(0, 100, 1600))
    await publish(bus, "s-1", transcript(1, 2440, 4100, "I would like a cup of coffee."))
    await publish(bus, "s-1", transcript(2, 2440, 5200, "I would like a cup of coffee, please."))
    trail = await read_session_trail(bus, CODEC, "s-1", started_at=time.time())
    assert trail.segments == [] and trail.withdrawn() == {1}


async def test_a_long_talk_resumed_is_not_sent_again_from_its_first_sentence():
    bus = MemoryBus()
    said = [await publish(bus, "s-1", transcript(n, n * 1000, n * 1000 + 800, f"Sentence {n}.")) for n in range(300)]
    trail = await read_session_trail(bus, CODEC, "s-1", started_at=time.time())
    # The client lists its newest 100 (of 250 it got) and missed the last 50 in the drop; it also misses one just
    # before its oldest listed, which a swap of neighbours on the way could explain.
    listed = {e.event_id for e in said[150:250]} - {said[160].event_id}
    had = trail.had_by_client(frozenset(listed))
    replayed = [n for n, e in enumerate(said) if e.event_id not in had]
    # Long before the oldest listed (150): had. Near it (86-149) and everything it does not list after it: sent.
    assert replayed == list(range(86, 150)) + [160] + list(range(250, 300))
    assert trail.had_by_client(frozenset()) == set()  # listing nothing: everything is sent
