"""Faults survived on the replicated cluster (scripts/kafka-cluster.sh: three brokers, replication 3,
min.insync.replicas 2), each while a live speaker streams real speech through real stage processes: a broker
killed, a stage replica killed, the whole cluster unreachable for 30 s."""

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
from babelstream.contracts.topics import ALL_TOPICS, SPEECH_SEGMENT
from tests.support.bus import tail
from tests.support.harness import free_port, frames_of, stream
from tests.support.pipeline_checks import UTTERANCES, check_translated_talk, speak, talk_pcm
from tests.support.process import Component

pytestmark = [pytest.mark.kafka, pytest.mark.models, pytest.mark.cluster]

OUTAGE_SECONDS = 30


@pytest.fixture(scope="module")
def platform(kafka_cluster):
    """Two ASR replicas in one group, translate, tts and a gateway, as processes on the cluster."""
    env = {
        **os.environ, "BUS": "kafka", "KAFKA_BOOTSTRAP_SERVERS": kafka_cluster.bootstrap,
        "KAFKA_REPLICATION_FACTOR": "3", "KAFKA_MIN_INSYNC_REPLICAS": "2", "KAFKA_SESSION_TIMEOUT_MS": "6000",
    }
    run = uuid.uuid4().hex[:6]
    ports = {name: free_port() for name in ("asr-a", "asr-b", "translate", "tts", "gateway")}
    stages = {
        name: Component(f"{run}-cluster-{name}", ["stage", name.split("-")[0], "--metrics-port", str(ports[name])], env)
        for name in ("asr-a", "asr-b", "translate", "tts")
    }
    gateway = Component(f"{run}-cluster-gateway", ["gateway", "--port", str(ports["gateway"])], env)
    everything = [*stages.values(), gateway]
    try:
        for component in everything:
            component.start()
        for component in stages.values():
            component.wait_for_line("running on kafka")
        gateway.wait_until_ready(f"http://127.0.0.1:{ports['gateway']}/readyz")
        replicas = {name: f"http://127.0.0.1:{ports[name]}" for name in ("asr-a", "asr-b")}
        # Both replicas hold partitions before any test talks (the second one's join is a rebalance).
        deadline = time.monotonic() + 60
        while not all(segment_partitions(base) for base in replicas.values()):
            assert time.monotonic() < deadline, {name: segment_partitions(base) for name, base in replicas.items()}
            time.sleep(0.5)
        yield {
            "stages": stages, "replicas": replicas, "gateway": gateway, "cluster": kafka_cluster,
            "address": f"127.0.0.1:{ports['gateway']}", "gateway_url": f"http://127.0.0.1:{ports['gateway']}",
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
