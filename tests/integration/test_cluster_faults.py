"""Faults survived on the replicated cluster (scripts/kafka-cluster.sh: three brokers, replication 3,
min.insync.replicas 2), each while a live speaker streams real speech through real stage processes: a broker
killed, a stage replica killed, a gateway killed (its client resumes on the other), the whole cluster unreachable
for 30 s."""

from __future__ import annotations

import asyncio
import os
import time
import uuid

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from babelstream.bus.kafka import KafkaBus
from babelstream.bus.settings import BusSettings
from babelstream.contracts.codec import SingleObjectCodec
from babelstream.contracts.topics import ALL_TOPICS, ASR_TEXT, SPEECH_SEGMENT, TRANSLATION_TEXT
from tests.support.bus import tail
from tests.support.harness import free_port, frames_of, stream
from tests.support.pipeline_checks import UTTERANCES, check_translated_talk, speak, talk_pcm
from tests.support.process import Component
from tests.support.resume import ResumingSpeaker, Talk, assert_each_result_once
from tests.support.speech import corpus_wer

pytestmark = [pytest.mark.kafka, pytest.mark.models, pytest.mark.cluster]

OUTAGE_SECONDS = 30


@pytest.fixture(scope="module")
def platform(kafka_cluster):
    """Two ASR replicas in one group, translate, tts and two gateways (sharing RESUME_SECRET: a session resumes on
    either), as processes on the cluster. The second gateway is the one a test kills."""
    env = {
        **os.environ, "BUS": "kafka", "KAFKA_BOOTSTRAP_SERVERS": kafka_cluster.bootstrap,
        "KAFKA_REPLICATION_FACTOR": "3", "KAFKA_MIN_INSYNC_REPLICAS": "2", "KAFKA_SESSION_TIMEOUT_MS": "6000",
        "RESUME_SECRET": uuid.uuid4().hex,
    }
    run = uuid.uuid4().hex[:6]
    ports = {name: free_port() for name in ("asr-a", "asr-b", "translate", "tts", "gateway", "gateway-b")}
    stages = {
        name: Component(f"{run}-cluster-{name}", ["stage", name.split("-")[0], "--metrics-port", str(ports[name])], env)
        for name in ("asr-a", "asr-b", "translate", "tts")
    }
    gateway = Component(f"{run}-cluster-gateway", ["gateway", "--port", str(ports["gateway"])], env)
    doomed = Component(f"{run}-cluster-gateway-b", ["gateway", "--port", str(ports["gateway-b"])], env)
    everything = [*stages.values(), gateway, doomed]
    try:
        for component in everything:
            component.start()
        for component in stages.values():
            component.wait_for_line("running on kafka")
        gateway.wait_until_ready(f"http://127.0.0.1:{ports['gateway']}/readyz")
        doomed.wait_until_ready(f"http://127.0.0.1:{ports['gateway-b']}/readyz")
        replicas = {name: f"http://127.0.0.1:{ports[name]}" for name in ("asr-a", "asr-b")}
        # Both replicas hold partitions before any test talks (the second one's join is a rebalance).
        deadline = time.monotonic() + 60
        while not all(segment_partitions(base) for base in replicas.values()):
            assert time.monotonic() < deadline, {name: segment_partitions(base) for name, base in replicas.items()}
            time.sleep(0.5)
        yield {
            "stages": stages, "replicas": replicas, "gateway": gateway, "cluster": kafka_cluster,
            "address": f"127.0.0.1:{ports['gateway']}", "gateway_url": f"http://127.0.0.1:{ports['gateway']}",
            "doomed": doomed, "doomed_address": f"127.0.0.1:{ports['gateway-b']}",
        }
    finally:
        for component in everything:
            component.stop()


def segment_partitions(base: str) -> set[int]:
    """The partitions of the segment topic this ASR process consumes now (its consumer-lag series)."""
    text = httpx.get(f"{base}/metrics", timeout=10).text
    return {
        int(sample.labels["partition"])
        for family in text_string_to_metric_families(text) if family.name == "babelstream_stage_consumer_lag"
        for sample in family.samples if sample.labels.get("topic") == SPEECH_SEGMENT
    }


def gateway_metric(base: str, name: str) -> float:
    text = httpx.get(f"{base}/metrics", timeout=10).text
    return sum(s.value for family in text_string_to_metric_families(text) for s in family.samples if s.name == name)


async def talk_and_first_cut(platform, utterances) -> tuple[asyncio.Task, int]:
    """Starts a live talk; returns it (a task) once its first utterance is published, with the partition that went
    to: every event of a session is keyed by its correlation id, so its utterances and results are all there."""
    bus = KafkaBus(BusSettings(bus="kafka", kafka_bootstrap_servers=platform["cluster"].bootstrap), client_id="watch")
    await bus.start()
    segments = await tail(bus, [SPEECH_SEGMENT])
    try:
        talking = asyncio.create_task(speak(platform["address"], utterances=utterances))
        first = await segments.next(timeout_seconds=30)
        assert first is not None, "no utterance was cut within 30 s"
        return talking, first.partition
    finally:
        await segments.close()
        await bus.stop()


async def test_a_stage_replica_killed_mid_talk_hands_its_partitions_to_the_other_and_nothing_is_lost(platform):
    replicas = platform["replicas"]
    utterances = UTTERANCES * 3
    talking, partition = await talk_and_first_cut(platform, utterances)
    # The replica that owns the talk's partition is decoding its first utterance now: kill it there.
    owners = {name: await asyncio.to_thread(segment_partitions, base) for name, base in replicas.items()}
    [victim] = [name for name, partitions in owners.items() if partition in partitions]
    [survivor] = [name for name in replicas if name != victim]
    platform["stages"][victim].kill()
    platform["killed"] = victim
    killed_at = time.monotonic()
    everything = set(platform["cluster"].partitions(SPEECH_SEGMENT))
    while await asyncio.to_thread(segment_partitions, replicas[survivor]) != everything:
        assert time.monotonic() - killed_at < 30, "the survivor did not take the dead replica's partitions"
        await asyncio.sleep(0.5)
    moved_after = time.monotonic() - killed_at
    talk, _ = await talking
    check_translated_talk(talk, utterances=utterances)  # every utterance once, in order, summary complete
    assert owners[victim] and moved_after < 20, (owners, moved_after)  # KAFKA_SESSION_TIMEOUT_MS is 6 s here


async def test_a_broker_killed_mid_talk_loses_nothing_and_rejoins(platform):
    cluster = platform["cluster"]
    utterances = UTTERANCES * 3
    failures_before = gateway_metric(platform["gateway_url"], "babelstream_gateway_publish_failures_total")
    talking, partition = await talk_and_first_cut(platform, utterances)
    # The broker leading the talk's partition: the one every event of this session is written to.
    leader, _ = cluster.partitions(SPEECH_SEGMENT)[partition]
    await asyncio.to_thread(cluster.kill, leader)
    killed_at = time.monotonic()

    def moved() -> bool:
        now_leader, in_sync = cluster.partitions(SPEECH_SEGMENT)[partition]
        return now_leader not in (leader, -1) and leader not in in_sync and len(in_sync) >= 2

    # The controller fences the dead broker (KAFKA_BROKER_SESSION_TIMEOUT_MS, 4 s; more if it was the active
    # controller: a new one is elected first) and another replica leads; writes go on with 2 of 3 in sync.
    failover = await asyncio.to_thread(cluster.wait_until, moved, 30, "leadership of the talk's partition moved")
    await asyncio.to_thread(cluster.start, leader)  # restarted; returns once it is back in every ISR
    rejoined_after = time.monotonic() - killed_at
    talk, _ = await talking
    check_translated_talk(talk, utterances=utterances)  # every utterance once, in order, summary complete
    assert gateway_metric(platform["gateway_url"], "babelstream_gateway_publish_failures_total") == failures_before
    assert cluster.out_of_sync(leader, list(ALL_TOPICS)) == []  # the broker rejoined every partition it holds
    assert failover < 15 and rejoined_after < 90, (failover, rejoined_after)


async def session_events(bootstrap: str, correlation_id: str, topics: list[str]) -> list:
    """Every event of the session on `topics`, read from the start of each partition."""
    bus = KafkaBus(BusSettings(bus="kafka", kafka_bootstrap_servers=bootstrap), client_id="watch")
    await bus.start()
    subscription = await bus.subscribe(topics, f"test-{uuid.uuid4().hex[:8]}", ephemeral=True)
    codec, events = SingleObjectCodec(), []
    try:
        while (message := await subscription.next(timeout_seconds=3)) is not None:
            if message.key == correlation_id.encode():
                events.append(codec.decode(message.value))
        return events
    finally:
        await subscription.close()
        await bus.stop()


async def test_a_gateway_killed_mid_talk_its_client_resumes_on_the_other_and_nothing_published_is_lost(platform):
    talk = Talk([text for text, _ in UTTERANCES * 3])
    speaker = ResumingSpeaker(talk.pcm, {"event": "start", "language": "en", "targets": ["es"], "synthesize": False})
    first = await speaker.connect(platform["doomed_address"])

    def mid_sentence_after_two_answers() -> bool:
        speaking = talk.speaking_at(speaker.sent_ms)
        return speaking is not None and speaking >= 2 and len(speaker.of_type("transcript")) >= 2

    # Killed in the middle of a sentence once two were answered: that sentence is the open one.
    assert not await speaker.talk(stop_when=mid_sentence_after_two_answers)
    open_sentence = talk.speaking_at(speaker.sent_ms)
    await asyncio.to_thread(platform["doomed"].kill)
    await speaker.dropped()
    killed_at_ms = speaker.sent_ms
    second = await speaker.resume(platform["address"])
    assert await speaker.talk()
    await speaker.finish()

    assert first.close_code == 1006 and second.close_code == 1000, second.messages[-3:]
    resumed = second.messages[1]
    assert resumed["type"] == "resumed" and resumed["correlation_id"] == first.correlation_id
    # Reading the session back from the cluster: a group join and a read to each partition's end, in seconds.
    assert speaker.resume_seconds[0] < 10, speaker.resume_seconds
    messages = speaker.messages
    assert_each_result_once(messages)  # nothing shown twice, over both sockets
    # Nothing published is lost: every transcript and translation the bus holds for the session (but those of a
    # withdrawn speculation, whose utterance was published again whole) reached the client, once.
    events = await session_events(platform["cluster"].bootstrap, first.correlation_id,
                                  [SPEECH_SEGMENT, ASR_TEXT, TRANSLATION_TEXT])
    segments = [e.payload for e in events if e.payload.EVENT_TYPE == "SpeechSegmentEvent"]
    dead_gateway = next(e.source_service for e in events if e.payload.EVENT_TYPE == "SpeechSegmentEvent")
    withdrawn = {s.segment_index for s in segments
                 if any(o.start_ms == s.start_ms and o.segment_index > s.segment_index for o in segments)}
    published = {e.event_id for e in events if e.payload.EVENT_TYPE in ("TextRecognizedEvent", "TextTranslatedEvent")
                 and e.payload.text and e.payload.segment_index not in withdrawn}
    shown = {m["event_id"] for m in messages if m.get("type") in ("transcript", "translation")}
    assert published <= shown, published - shown
    # The sentences before and after the open one: each transcribed once, where it was said.
    heard = []
    for index in sorted(set(range(len(talk.spans))) - {open_sentence}):
        transcripts = talk.transcripts_of(messages, index)
        assert len(transcripts) == 1, (index, [t["text"] for t in transcripts])
        heard.append((talk.spans[index][0], transcripts[0]["text"]))
    assert corpus_wer(heard) <= 0.15, heard
    # Numbering goes on after the highest index the dead gateway published.
    assert resumed["next_segment"] == max(e.payload.segment_index for e in events if e.source_service == dead_gateway
                                          and e.payload.EVENT_TYPE == "SpeechSegmentEvent") + 1
    after = [m["segment_index"] for m in second.messages if m.get("type") == "segment"]
    assert after and min(after) == resumed["next_segment"]
    # The open sentence's unpublished audio is named, from where the published audio ends to where the client was.
    [lost] = [w for w in speaker.of_type("warning") if w["kind"] == "audio_lost"]
    assert lost["start_ms"] == resumed["published_ms"] < killed_at_ms == lost["end_ms"] == resumed["audio_ms"]
    assert lost["start_ms"] < talk.spans[open_sentence][2] and lost["end_ms"] > talk.spans[open_sentence][1]
    summary = second.of_type("summary")[0]
    assert summary["complete"] and summary["correlation_id"] == first.correlation_id


async def test_a_resume_with_a_bad_token_is_refused_on_any_gateway(platform):
    speaker = ResumingSpeaker(b"", {"event": "start"})
    first = await speaker.connect(platform["address"])
    token = first.messages[0]["resume_token"]
    for correlation_id, bad in [
        (first.correlation_id, token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")),  # forged
        (first.correlation_id, "v1." + ".".join(token.split(".")[1:3]) + ".1." + token.rsplit(".", 1)[1]),
        (str(uuid.uuid4()), token),  # another session's
    ]:
        intruder = ResumingSpeaker(b"", {})
        refused = await intruder.connect(platform["address"], {
            "event": "resume", "correlation_id": correlation_id, "resume_token": bad, "audio_ms": 0,
        })
        await intruder.dropped()
        assert refused.close_code == 1008, refused.messages
        assert [m["kind"] for m in refused.messages if m.get("type") == "error"] == ["resume_refused"]
    await speaker.finish()


async def test_the_cluster_unreachable_for_30_s_ends_live_sessions_refuses_new_ones_then_recovers(platform):
    cluster, address, base = platform["cluster"], platform["address"], platform["gateway_url"]
    utterances = UTTERANCES * 4  # still talking when the outage has lasted longer than the publish may wait
    heard = asyncio.Event()
    talking = asyncio.create_task(
        speak(address, utterances=utterances, on_message=lambda m: m.get("type") == "transcript" and heard.set())
    )
    await asyncio.wait_for(heard.wait(), 30)  # a live session, answered
    await asyncio.to_thread(cluster.pause)  # every broker hangs: connections open, nothing answers
    paused_at = time.monotonic()
    try:
        async with httpx.AsyncClient(base_url=base) as http:
            while (await http.get("/readyz")).status_code != 503:
                assert time.monotonic() - paused_at < 15, "/readyz still 200 with every broker unreachable"
                await asyncio.sleep(0.5)
        asked = time.monotonic()
        refused = await stream(address, frames_of(talk_pcm(UTTERANCES[:1])), start={"event": "start"})
        refused_in = time.monotonic() - asked
        live, _ = await talking
        ended_after = time.monotonic() - paused_at
        await asyncio.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - paused_at)))
    finally:
        await asyncio.to_thread(cluster.resume)
    resumed_at = time.monotonic()

    # The live session: the defined error once its next utterance could not be published.
    assert live.close_code == 1011, live.messages[-3:]
    error = live.of_type("error")[0]
    assert error["kind"] == "publish_failed" and error["code"] == 1011
    assert live.of_type("transcript") and ended_after < OUTAGE_SECONDS
    # A new session: refused at once, before `connected`, with a reason.
    assert refused.close_code == 1013 and len(refused.messages) == 1, refused.messages
    assert refused.messages[0]["kind"] == "pipeline_unavailable" and "unavailable" in refused.messages[0]["reason"]
    assert refused_in < 2.0, refused_in

    # Recovery, with no process restarted: ready again, and a new session is answered in full.
    async with httpx.AsyncClient(base_url=base) as http:
        while (await http.get("/readyz")).status_code != 200:
            assert time.monotonic() - resumed_at < 60, "/readyz not back to 200 after the outage"
            await asyncio.sleep(0.5)
    talk, _ = await speak(address, utterances=UTTERANCES)
    check_translated_talk(talk, utterances=UTTERANCES)
    restarted = [c.name for name, c in platform["stages"].items()
                 if name != platform.get("killed") and c.process.poll() is not None]
    assert restarted == [] and platform["gateway"].process.poll() is None
