"""The distributed platform for real: every stage and two gateways as separate processes on the real broker."""

from __future__ import annotations

import asyncio
import os
import time
import uuid

import httpx
import pytest

from babelstream.bus.kafka import KafkaBus
from babelstream.contracts.topics import DEAD_LETTER, SPEECH_SEGMENT, TRANSLATION_PARTIAL, TRANSLATION_TEXT
from tests.support.bus import collect, tail, wait_for_no_lag
from babelstream.client.grpc_call import requests, translate
from babelstream.client.messages import Start
from tests.support.harness import free_port, frames_of, stream
from tests.support.pipeline_checks import UTTERANCES, check_translated_talk, speak, talk_pcm
from tests.support.process import Component
from tests.support.rooms import RoomListener
from tests.support.speech import silence, spoken_without_pauses

pytestmark = [pytest.mark.kafka, pytest.mark.models]

# Sentences spoken on with no gap: one long utterance, whose words come while it is spoken.
PARTIALS_TALK = (
    "We walked along the beach for a long time and talked about the summer",
    "then everybody went home to have dinner with their families",
)


@pytest.fixture(scope="module")
def distributed(kafka_bootstrap):
    """segmenter, asr, translate and tts processes, and two gateways, all on the test broker."""
    env = {**os.environ, "BUS": "kafka", "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "KAFKA_SESSION_TIMEOUT_MS": "6000"}
    run = uuid.uuid4().hex[:6]
    stages = {name: Component(f"{run}-{name}", ["stage", name], env) for name in ("segmenter", "asr", "translate", "tts")}
    ports = [free_port(), free_port()]
    grpc_ports = [free_port(), free_port()]  # each gateway's gRPC ingress too
    gateways = [
        Component(f"{run}-gateway-{i}", ["gateway", "--port", str(port), "--grpc-port", str(grpc_port)], env)
        for i, (port, grpc_port) in enumerate(zip(ports, grpc_ports))
    ]
    everything = [*stages.values(), *gateways]
    try:
        for component in everything:
            component.start()
        for component in stages.values():
            component.wait_for_line("running on kafka")
        for port in ports:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.3)
            else:
                raise TimeoutError(f"gateway on {port} not ready")
        # Earlier tests may have left audio on the topics; a new stage group starts from the earliest
        # offset and works through it first. Start the clock of these tests once it is done.
        topics = {"segmenter": "speech.audio.ingress", "asr": SPEECH_SEGMENT, "translate": "speech.asr.text", "tts": "speech.translation.text"}
        for name, topic in topics.items():
            wait_for_no_lag(kafka_bootstrap, f"babelstream.{name}", topic)
        yield {"stages": stages, "gateways": [f"127.0.0.1:{port}" for port in ports], "bootstrap": kafka_bootstrap,
               "grpc": [f"127.0.0.1:{port}" for port in grpc_ports]}
    finally:
        for component in everything:
            component.stop()


async def test_english_speech_through_separate_processes(distributed):
    utterances = [*UTTERANCES, UTTERANCES[0]]
    talk, arrivals = await speak(distributed["gateways"][0], targets=("es", "pt"), utterances=utterances)
    check_translated_talk(talk, targets=("es", "pt"), utterances=utterances)
    first_translation = next(t for t, m in arrivals if m.get("type") == "translation")
    ack = next(t for t, m in arrivals if m.get("type") == "ack")
    timeline = [(round(t, 2), m.get("type"), m.get("latency_ms"), m.get("stage_ms")) for t, m in arrivals]
    assert first_translation < ack - 1.0, f"the first translation must arrive while the person speaks: {timeline}"
    assert {"asr", "translate", "bus"} <= set(talk.of_type("translation")[0]["stage_ms"])


async def test_two_gateways_each_answer_their_own_clients(distributed):
    first, second = distributed["gateways"]
    (talk_a, _), (talk_b, _) = await asyncio.gather(
        speak(first, targets=("es",)), speak(second, targets=("pt",), utterances=UTTERANCES[:1])
    )
    check_translated_talk(talk_a, targets=("es",))
    check_translated_talk(talk_b, targets=("pt",), utterances=UTTERANCES[:1])
    assert not [m for m in talk_a.of_type("translation") if m["target_language"] != "es"]


async def test_poison_message_is_dead_lettered_and_the_stage_keeps_serving(distributed, kafka_settings):
    bus = KafkaBus(kafka_settings, client_id="poisoner")
    await bus.start()
    letters = await tail(bus, [DEAD_LETTER])
    poison_key = str(uuid.uuid4())
    poison = b"\xc3\x01not an avro event at all" + os.urandom(32)
    try:
        await bus.publish(SPEECH_SEGMENT, poison_key.encode(), poison)
        [(_, letter)] = await collect(bus, letters, {poison_key}, count=1, timeout=60)
    finally:
        await letters.close()
        await bus.stop()
    assert letter.event_type == "DeadLetterEvent"
    assert letter.payload.original_value == poison and letter.payload.original_topic == SPEECH_SEGMENT
    assert letter.payload.stage == "asr" and "MalformedEvent" in letter.payload.error
    talk, _ = await speak(distributed["gateways"][0], utterances=UTTERANCES[:1])
    check_translated_talk(talk, utterances=UTTERANCES[:1])


async def test_asr_killed_mid_stream_and_restarted_loses_nothing_and_repeats_nothing(distributed):
    asr = distributed["stages"]["asr"]
    utterances = UTTERANCES * 3
    talking = asyncio.create_task(speak(distributed["gateways"][0], utterances=utterances))
    await asyncio.sleep(5)  # the first utterances are in flight
    asr.kill()
    await asyncio.sleep(1)
    asr.start()
    talk, _ = await talking
    check_translated_talk(talk, utterances=utterances)


# -- rooms across gateways -------------------------------------------------------------------------------------

async def test_a_room_spans_gateways_and_each_utterance_is_translated_once_per_language(distributed, kafka_settings):
    """Speaker on gateway A; a Spanish listener on B and a Portuguese one on A: each gets its language, and the
    translation topic carries utterances × languages events, not × listeners. A gateway started after the talk
    reads the room's history from the bus."""
    first, second = distributed["gateways"]
    room = f"kafka-{uuid.uuid4().hex[:6]}"
    spanish = await RoomListener.join(second, room, "es")
    spanish_too = await RoomListener.join(second, room, "es", voice=False)
    portuguese = await RoomListener.join(first, room, "pt")
    await asyncio.sleep(1.0)  # gateway B's presence record reaches A (it is read within milliseconds; margin)
    bus = KafkaBus(kafka_settings)
    await bus.start()
    translations = await tail(bus, [TRANSLATION_TEXT])
    try:
        talk, _ = await speak(first, targets=(), room=room)
        check_translated_talk(talk, targets=())
        speaker = talk.correlation_id
        utterances = len(talk.of_type("transcript"))
        assert utterances == len(UTTERANCES)
        events = await collect(bus, translations, {speaker}, count=utterances * 2 + 1, timeout=8)
        assert sorted((e.payload.segment_index, e.payload.target_language) for _, e in events) == sorted(
            (i, language) for i in range(utterances) for language in ("es", "pt")
        )  # once per (utterance, language), with three listeners
    finally:
        await bus.stop()
    for listener, language in ((spanish, "es"), (spanish_too, "es"), (portuguese, "pt")):
        await listener.heard.wait_for(
            lambda m: m.get("type") == "translation" and m["segment_index"] == utterances - 1, timeout=30
        )
        heard = listener.heard
        assert [m["text"] for m in heard.of_type("transcript")] == [m["text"] for m in talk.of_type("transcript")]
        assert [m["segment_index"] for m in heard.of_type("translation")] == list(range(utterances))
        assert {m["target_language"] for m in heard.of_type("translation")} == {language}
        assert {m["speaker"] for m in heard.of_type("translation")} == {speaker}
    assert "casa" in spanish.heard.of_type("translation")[0]["text"].lower()
    # The spoken translation follows its translation (the tts stage synthesises, then encodes it for the room).
    await portuguese.heard.wait_for(lambda m: m.get("type") == "audio" and m["segment_index"] == utterances - 1)
    assert spanish_too.heard.of_type("audio") == [] and len(portuguese.heard.of_type("audio")) == utterances
    # Spoken as the tts stage encoded it for the room, once: Ogg Opus in binary frames (docs/protocol.md, "Rooms").
    assert {m["format"] for m in portuguese.heard.of_type("audio")} == {"ogg_opus"}
    assert all(m["audio_file"].startswith(b"OggS") for m in portuguese.heard.of_type("audio"))
    for listener in (spanish, spanish_too, portuguese):
        await listener.leave()

    port = free_port()
    env = {**os.environ, "BUS": "kafka", "KAFKA_BOOTSTRAP_SERVERS": distributed["bootstrap"]}
    newcomer = Component(f"gateway-late-{room}", ["gateway", "--port", str(port)], env)
    newcomer.start()
    try:
        newcomer.wait_until_ready(f"http://127.0.0.1:{port}/readyz")
        # A gateway that has just started reads the history back from the bus in its first moments (it is ready
        # before it has caught up: docs/protocol.md, "Rooms"): ask again until the whole talk is there.
        for _ in range(40):
            late = await RoomListener.join(f"127.0.0.1:{port}", room, "es")
            await late.heard.wait_for(lambda m: m.get("type") == "listening")
            if late.heard.of_type("listening")[0]["history"] == utterances * 2:
                break
            await late.leave()
            await asyncio.sleep(0.5)
        assert late.heard.of_type("listening")[0]["history"] == utterances * 2
        # The history follows `listening` on the socket: wait for all of it.
        await late.heard.wait_for(lambda m: m.get("type") == "translation" and m.get("history") is True
                                  and m["segment_index"] == utterances - 1, timeout=10)
        history = late.heard.of_type("translation", history=True)
        assert [m["segment_index"] for m in history] == list(range(utterances))
        assert history[0]["text"] == spanish.heard.of_type("translation")[0]["text"]
        await late.leave()
    finally:
        newcomer.stop()


async def test_listeners_on_another_gateway_read_the_words_while_the_speaker_speaks(distributed, kafka_settings):
    """Speaker on gateway A with translate_partials; Portuguese listeners on B (one with partials=0) and a Spanish one
    on A. The partials come from the ASR process, the partial translations from the translate process, each (partial,
    language) made once for the room."""
    first, second = distributed["gateways"]
    room = f"kafka-partials-{uuid.uuid4().hex[:6]}"
    portuguese = await RoomListener.join(second, room, "pt", voice=False)
    quiet = await RoomListener.join(second, room, "pt", voice=False, partials=False)
    spanish = await RoomListener.join(first, room, "es", voice=False)
    await asyncio.sleep(1.0)  # gateway B's presence record reaches A (it is read within milliseconds; margin)
    bus = KafkaBus(kafka_settings)
    await bus.start()
    made = await tail(bus, [TRANSLATION_PARTIAL])
    try:
        pcm = silence(300) + spoken_without_pauses(PARTIALS_TALK) + silence(1200)
        talk = await stream(first, frames_of(pcm), pace_seconds=0.02, start={
            "event": "start", "room": room, "language": "en", "targets": [], "synthesize": False,
            "translate_partials": True})
        assert talk.close_code == 1000
        events = [event for _, event in await collect(bus, made, {talk.correlation_id}, count=10_000, timeout=3)]
    finally:
        await bus.stop()
    made_once = [(e.payload.start_ms, e.payload.source_text, e.payload.target_language) for e in events]
    assert made_once and len(made_once) == len(set(made_once))  # once per room, not per listener
    assert {language for *_, language in made_once} == {"es", "pt"}
    await portuguese.heard.wait_for(lambda m: m.get("type") == "translation", timeout=30)
    await quiet.heard.wait_for(lambda m: m.get("type") == "translation", timeout=30)
    heard = portuguese.heard.messages
    first_final = next(i for i, m in enumerate(heard) if m.get("type") == "transcript")
    partials = [m for m in heard[:first_final] if m.get("type") == "partial"]
    assert len(partials) >= 3 and {m["speaker"] for m in partials} == {talk.correlation_id}, partials
    stable: dict[int, str] = {}
    for message in portuguese.heard.of_type("partial"):
        assert message["stable_text"].startswith(stable.get(message["start_ms"], "")), message
        stable[message["start_ms"]] = message["stable_text"]
    first_translation = next(i for i, m in enumerate(heard) if m.get("type") == "translation")
    translated = [m for m in heard[:first_translation] if m.get("type") == "partial_translation"]
    assert translated and {m["language"] for m in portuguese.heard.of_type("partial_translation")} == {"pt"}
    assert all((m["start_ms"], m["source_text"], "pt") in made_once for m in translated)
    assert {m["language"] for m in spanish.heard.of_type("partial_translation")} == {"es"}
    assert not quiet.heard.of_type("partial") and not quiet.heard.of_type("partial_translation")
    for listener in (portuguese, quiet, spanish):
        await listener.leave()


async def test_a_grpc_speaker_on_one_gateway_is_heard_by_websocket_listeners_on_another(distributed):
    """The doors meet in a room: the speaker streams over gRPC to gateway A, the listener reads on /ws/listen of B."""
    room = f"kafka-grpc-{uuid.uuid4().hex[:6]}"
    listener = await RoomListener.join(distributed["gateways"][1], room, "es")
    await asyncio.sleep(1.0)  # gateway B's presence record reaches A
    talk = await asyncio.to_thread(
        translate, distributed["grpc"][0],
        requests(Start(language="en", room=room), frames_of(talk_pcm()), frame_seconds=0.02), timeout=120,
    )
    assert talk.code.name == "OK", talk.details
    await listener.heard.wait_for(
        lambda m: m.get("type") == "translation" and m["segment_index"] == len(UTTERANCES) - 1, timeout=30
    )
    # The spoken translation follows its translation (the tts stage synthesises, then encodes it for the room).
    await listener.heard.wait_for(
        lambda m: m.get("type") == "audio" and m["segment_index"] == len(UTTERANCES) - 1, timeout=30
    )
    translations = listener.heard.of_type("translation")
    assert {m["speaker"] for m in translations} == {talk.correlation_id}
    assert [m["text"] for m in listener.heard.of_type("transcript")] == [t.text for t in talk.of("transcript")]
    assert "casa" in translations[0]["text"].lower() and len(listener.heard.of_type("audio")) == len(UTTERANCES)
    await listener.leave()
