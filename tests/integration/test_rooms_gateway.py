"""Rooms on the real gateway over real sockets, with results put on the bus as the stages would publish them:
who gets what, history, language changes, slow listeners and every refusal. (Rooms with real speech, models and
Kafka: test_rooms_embedded.py, test_rooms_kafka.py.)"""

from __future__ import annotations

import asyncio
import io
import json
import math

import av
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from babelstream.bus.event_publisher import EventPublisher
from babelstream.bus.memory import MemoryBus
from babelstream.contracts.events import SessionOptions
from babelstream.engines.tts.ogg_opus import encode_ogg_opus
from babelstream.gateway.access.tokens import mint_token
from tests.support.gateway_cases import CODEC
from tests.support.harness import frames_of, running_gateway, stream
from tests.support.raw_socket import RawSocket
from tests.support.rooms import RoomListener, room_partials, room_results
from tests.support.speech import silence
from tests.support.unreachable_bus import UnreachableBus

SECRET = "a-test-secret-that-is-long-enough-for-hs256"


class Capabilities:
    """What the pipeline behind the gateway can do, as the gateway asks it."""

    def source_languages(self):
        return frozenset({"en", "es"})

    def pairs(self):
        return frozenset({("en", "es"), ("en", "pt"), ("es", "en")})

    def speech_languages(self):
        return frozenset({"es", "pt", "en"})


async def publish_all(bus, events) -> None:
    publisher = EventPublisher(bus, CODEC)
    for event in events:
        await publisher.publish(event)


async def test_each_listener_gets_the_captions_and_its_own_language_and_audio_only_with_voice():
    bus = MemoryBus()
    async with running_gateway(bus, CODEC) as (_, address):
        spanish = await RoomListener.join(address, "aula-1", "es")
        portuguese = await RoomListener.join(address, "aula-1", "pt", voice=False)
        other_room = await RoomListener.join(address, "aula-2", "es")
        events = room_results("aula-1", text="The house is big.")
        await publish_all(bus, events + events[:3])  # a redelivery must not reach anyone twice
        await spanish.heard.wait_for(lambda m: m.get("type") == "audio")
        await portuguese.heard.wait_for(lambda m: m.get("type") == "translation")
        await asyncio.sleep(0.3)
        for listener, language in ((spanish, "es"), (portuguese, "pt")):
            heard = listener.heard
            assert heard.messages[0]["room"] == "aula-1" and heard.messages[0]["status"] == "connected"
            assert heard.of_type("listening")[0] == {
                "type": "listening", "room": "aula-1", "language": language, "voice": language == "es", "audio": "opus",
                "partials": True, "history": 0,
            }
            [transcript] = heard.of_type("transcript")
            assert transcript["text"] == "The house is big." and transcript["history"] is False
            assert transcript["speaker"] == events[0].correlation_id and transcript["room"] == "aula-1"
            [translation] = heard.of_type("translation")
            assert translation["target_language"] == language and translation["text"] == f"[{language}] The house is big."
        assert [a["language"] for a in spanish.heard.of_type("audio")] == ["es"]
        assert portuguese.heard.of_type("audio") == []
        assert other_room.heard.of_type("transcript") == []
        for listener in (spanish, portuguese, other_room):
            await listener.leave()


async def test_spoken_translations_come_in_the_form_each_listener_asked_for():
    """audio=opus (the default): a binary frame of the tts stage's Ogg Opus; wav: a binary frame of the WAV; json:
    the WAV base64 in the audio message, as /ws/audio sends it. The same header fields in all three."""
    bus = MemoryBus()
    pcm = b"".join(int(8000 * math.sin(i / 7)).to_bytes(2, "little", signed=True) for i in range(22050))
    ogg_opus = encode_ogg_opus(pcm, 22050)
    async with running_gateway(bus, CODEC) as (_, address):
        listeners = {audio: await RoomListener.join(address, "aula", "es", audio=audio) for audio in ("opus", "wav", "json")}
        default = await RoomListener.join(address, "aula", "es")
        listeners["default"] = default
        events = room_results("aula", targets=("es",), ogg_opus=ogg_opus)
        await publish_all(bus, events)
        wav = events[-1].payload.audio_bytes
        heard = {name: (await l.heard.wait_for(lambda m: m.get("type") == "audio")) for name, l in listeners.items()}
        assert [m["audio"] for m in (l.heard.of_type("listening")[0] for l in listeners.values())] == [
            "opus", "wav", "json", "opus"]
        assert heard["opus"]["format"] == heard["default"]["format"] == "ogg_opus"
        assert heard["opus"]["audio_file"] == ogg_opus and heard["opus"]["bytes"] == len(ogg_opus)
        assert heard["default"]["audio_file"] == ogg_opus
        assert heard["wav"]["format"] == "wav" and heard["wav"]["audio_file"] == wav and heard["wav"]["bytes"] == len(wav)
        assert heard["json"]["format"] == "wav" and heard["json"]["audio_file"] == wav and "bytes" not in heard["json"]
        same = ("segment_index", "language", "text", "duration_ms", "event_id", "room", "speaker", "history")
        assert {tuple(m[k] for k in same) for m in heard.values()} == {tuple(heard["json"][k] for k in same)}
        # Opus decodes back to the speech's length (PyAV: the listener's side is a browser's decodeAudioData).
        with av.open(io.BytesIO(ogg_opus)) as container:
            decoded = sum(frame.samples / frame.sample_rate for frame in container.decode(audio=0))
        assert abs(decoded - 1.0) < 0.03 and len(ogg_opus) < len(pcm) / 8
        for listener in listeners.values():
            await listener.leave()


async def test_without_ogg_opus_from_the_tts_stage_an_opus_listener_gets_the_wav_and_is_told_so():
    bus = MemoryBus()
    async with running_gateway(bus, CODEC) as (_, address):
        listener = await RoomListener.join(address, "aula", "es", audio="opus")
        events = room_results("aula", targets=("es",))
        await publish_all(bus, events)
        audio = await listener.heard.wait_for(lambda m: m.get("type") == "audio")
        assert audio["format"] == "wav" and audio["audio_file"] == events[-1].payload.audio_bytes
        await listener.leave()


async def test_an_unknown_audio_form_is_refused():
    bus = MemoryBus()
    async with running_gateway(bus, CODEC) as (_, address):
        refused = await RoomListener.join(address, "aula", "es", audio="mp3")
        assert refused.heard.close_code == 1003 and refused.heard.messages[0]["kind"] == "malformed"
        assert "opus, wav, json" in refused.heard.messages[0]["reason"]


async def test_listeners_get_a_speakers_partials_until_its_final_in_their_language_and_never_as_history():
    bus = MemoryBus()
    async with running_gateway(bus, CODEC) as (gateway, address):
        portuguese = await RoomListener.join(address, "aula", "pt")
        quiet = await RoomListener.join(address, "aula", "pt", partials=False)
        spanish = await RoomListener.join(address, "aula", "es")
        speaker = "speaker-1"
        # Results on different topics may overtake each other (on Kafka as here): each step waits for the last.
        await publish_all(bus, room_partials("aula", speaker=speaker, stable="The", unstable=" house", targets=("es", "pt")))
        await portuguese.heard.wait_for(lambda m: m.get("type") == "partial_translation")
        await publish_all(bus, room_partials("aula", speaker=speaker, stable="", unstable="The hose"))  # takes back: dropped
        await publish_all(bus, room_partials("aula", speaker=speaker, stable="The house is", unstable=" big"))
        await portuguese.heard.wait_for(lambda m: m.get("stable_text") == "The house is")
        await publish_all(bus, room_partials("aula", speaker=speaker, stable="The house is", targets=("pt",))[1:])
        await portuguese.heard.wait_for(lambda m: m.get("source_text") == "The house is")
        await publish_all(bus, room_results("aula", speaker=speaker, targets=("es", "pt"), text="The house is big."))
        await portuguese.heard.wait_for(lambda m: m.get("type") == "transcript")
        await publish_all(bus, room_partials("aula", speaker=speaker, stable="The house is big", targets=("pt",)))
        await portuguese.heard.wait_for(lambda m: m.get("type") == "audio")
        await spanish.heard.wait_for(lambda m: m.get("type") == "audio")
        await quiet.heard.wait_for(lambda m: m.get("type") == "translation")
        await asyncio.sleep(0.3)
        kinds = [m["type"] for m in portuguese.heard.messages[2:]]
        assert kinds == ["partial", "partial_translation", "partial", "partial_translation", "transcript",
                         "translation", "audio"], portuguese.heard.messages
        partials = portuguese.heard.of_type("partial")
        assert [(m["stable_text"], m["unstable_text"]) for m in partials] == [("The", " house"), ("The house is", " big")]
        assert all(m["room"] == "aula" and m["speaker"] == speaker and m["history"] is False for m in partials)
        translated = portuguese.heard.of_type("partial_translation")
        assert [(m["language"], m["source_text"], m["text"]) for m in translated] == [
            ("pt", "The", "[pt] The"), ("pt", "The house is", "[pt] The house is")]
        assert translated[0]["speaker"] == speaker and translated[0]["start_ms"] == partials[0]["start_ms"]
        # The Spanish listener: the captions, and only the partial translation made in Spanish.
        assert [m["source_text"] for m in spanish.heard.of_type("partial_translation")] == ["The"]
        assert spanish.heard.of_type("partial_translation")[0]["language"] == "es"
        assert len(spanish.heard.of_type("partial")) == 2
        # partials=0: the finals only.
        assert quiet.heard.of_type("listening")[0]["partials"] is False
        assert not quiet.heard.of_type("partial") and not quiet.heard.of_type("partial_translation")
        assert quiet.heard.of_type("transcript")[0]["revised"] is False
        assert gateway.metrics.room_deliveries.labels(type="partial")._value.get() == 4
        # A late joiner reads the finals only.
        late = await RoomListener.join(address, "aula", "pt")
        await late.heard.wait_for(lambda m: m.get("type") == "translation")
        assert [m["type"] for m in late.heard.messages[2:]] == ["transcript", "translation"]
        for listener in (portuguese, quiet, spanish, late):
            await listener.leave()


async def test_a_room_transcript_that_disagrees_with_the_stable_text_shown_says_revised():
    bus = MemoryBus()
    async with running_gateway(bus, CODEC) as (_, address):
        listener = await RoomListener.join(address, "aula", "pt")
        await publish_all(bus, room_partials("aula", speaker="s", stable="The horse"))
        await listener.heard.wait_for(lambda m: m.get("type") == "partial")
        await publish_all(bus, room_results("aula", speaker="s", targets=("pt",), text="The house is big."))
        transcript = await listener.heard.wait_for(lambda m: m.get("type") == "transcript")
        assert transcript["revised"] is True and listener.heard.of_type("partial")
        await listener.leave()


async def test_a_late_listener_reads_the_last_utterances_as_history_then_live_results():
    bus = MemoryBus()
    async with running_gateway(bus, CODEC, room_history_utterances=2) as (_, address):
        speaker = "speaker-1"
        for segment in range(3):
            await publish_all(bus, room_results("aula", segment=segment, speaker=speaker, text=f"Sentence {segment}."))
        early = await RoomListener.join(address, "aula", "pt")  # joined after all three: reads two of them
        await early.heard.wait_for(lambda m: m.get("type") == "translation")
        listening = early.heard.of_type("listening")[0]
        assert listening["history"] == 4
        history = early.heard.messages[2:6]
        assert [(m["type"], m["segment_index"], m["history"]) for m in history] == [
            ("transcript", 1, True), ("translation", 1, True), ("transcript", 2, True), ("translation", 2, True),
        ]
        assert history[1]["target_language"] == "pt"
        await publish_all(bus, room_results("aula", segment=3, speaker=speaker, text="Sentence 3."))
        live = await early.heard.wait_for(lambda m: m.get("type") == "translation" and m["segment_index"] == 3)
        assert live["history"] is False and live["text"] == "[pt] Sentence 3."
        await early.leave()


async def test_a_listener_changes_its_language_from_the_next_utterance_on():
    bus = MemoryBus()
    async with running_gateway(bus, CODEC) as (gateway, address):
        listener = await RoomListener.join(address, "aula", "es")
        await publish_all(bus, room_results("aula", segment=0, speaker="s"))
        await listener.heard.wait_for(lambda m: m.get("type") == "translation")
        await listener.connection.listen(language="pt", voice=False)
        answer = await listener.heard.wait_for(lambda m: m.get("type") == "listening" and m["language"] == "pt")
        assert answer == {"type": "listening", "room": "aula", "language": "pt", "voice": False, "audio": "opus",
                          "partials": True, "history": 0}
        # The speaker's gateway now translates into pt (and speaks nothing: no listener wants voice).
        options = gateway.rooms.options_for("aula", SessionOptions(source_language="en"))
        assert options.target_languages == ("pt",) and options.spoken_languages == () and not options.synthesize
        await publish_all(bus, room_results("aula", segment=1, speaker="s"))
        await listener.heard.wait_for(lambda m: m.get("type") == "translation" and m["segment_index"] == 1)
        await asyncio.sleep(0.2)
        translations = [(m["segment_index"], m["target_language"]) for m in listener.heard.of_type("translation")]
        assert translations == [(0, "es"), (1, "pt")]
        assert [m["segment_index"] for m in listener.heard.of_type("audio")] == [0]
        await listener.leave()


async def test_a_room_speaker_translates_into_its_listeners_languages_and_hears_its_audience():
    bus = MemoryBus()
    async with running_gateway(bus, CODEC) as (gateway, address):
        spanish = await RoomListener.join(address, "aula", "es")
        portuguese = await RoomListener.join(address, "aula", "pt", voice=False)
        talk = await stream(
            address, frames_of(silence(1500)), pace_seconds=0.02,
            start={"event": "start", "language": "en", "room": "aula"},
        )
        ready = talk.of_type("ready")[0]
        assert ready["room"] == "aula" and ready["target_languages"] == []  # in a room, no targets by default
        assert ready["limits"]["max_session_seconds"] == gateway.settings.room_speaker_max_seconds
        audience = talk.of_type("audience")[0]
        assert audience == {"type": "audience", "room": "aula", "listeners": 2, "languages": {"es": 1, "pt": 1},
                            "speakers": 1}
        options = gateway.rooms.options_for("aula", SessionOptions(source_language="en"))
        assert set(options.target_languages) == {"es", "pt"} and options.spoken_languages == ("es",)
        assert talk.close_code == 1000
        for listener in (spanish, portuguese):
            await listener.leave()


async def test_a_listener_that_stops_reading_is_closed_and_the_others_get_everything():
    bus = MemoryBus()
    limit = 64 * 1024
    async with running_gateway(bus, CODEC, max_listener_queue_bytes=limit) as (gateway, address):
        reader = await RoomListener.join(address, "aula", "es")
        stuck = await RawSocket.open(address, path="/ws/listen?room=aula&lang=es")
        assert stuck.response_head.startswith(b"HTTP/1.1 101 ")
        stuck.writer.transport.pause_reading()  # it never reads again: the server's writes pile up
        utterances = 60
        sentence = "A long sentence of the talk, said at length. " * 40
        for segment in range(utterances):  # at a talk's pace, faster than speech: 20 utterances a second
            await publish_all(bus, room_results("aula", segment=segment, speaker="s", targets=("es",),
                                                audio_bytes=100_000, text=sentence))
            await asyncio.sleep(0.05)
        await reader.heard.wait_for(
            lambda m: m.get("type") == "audio" and m["segment_index"] == utterances - 1, timeout=60
        )
        # The one that keeps up loses nothing, and is never told it is behind.
        assert len(reader.heard.of_type("transcript")) == utterances
        assert len(reader.heard.of_type("translation")) == utterances
        assert len(reader.heard.of_type("audio")) == utterances
        assert reader.heard.of_type("warning") == []
        # The one that stopped reading lost its audio first, then was closed.
        assert gateway.metrics.listener_audio_dropped._value.get() >= 1
        assert gateway.metrics.rejections.labels(reason="slow_reader", transport="websocket")._value.get() == 1
        assert gateway.rooms.listener_count("aula") == 1
        stuck.drop()
        await reader.leave()


def refused(listener: RoomListener) -> tuple[str, int]:
    return listener.heard.messages[0]["kind"], listener.heard.close_code


@pytest.mark.parametrize("query, kind", [
    ("?lang=es", "malformed"),
    ("?room=aula", "malformed"),
    ("?room=a%20b&lang=es", "malformed"),
    ("?room=" + "x" * 65 + "&lang=es", "malformed"),
    ("?room=aula&lang=e", "malformed"),
    ("?room=aula&lang=es&colour=red", "malformed"),
    ("?room=aula&lang=ja", "unsupported_language"),
])
async def test_a_listener_with_a_bad_query_is_refused_before_connected(query, kind):
    async with running_gateway(MemoryBus(), CODEC, capabilities=Capabilities()) as (_, address):
        async with connect(f"ws://{address}/ws/listen{query}") as websocket:
            first = json.loads(await websocket.recv())
            with pytest.raises(ConnectionClosed):
                await websocket.recv()
        assert first["kind"] == kind and websocket.close_code == 1003


async def test_room_limits_refuse_with_capacity():
    async with running_gateway(MemoryBus(), CODEC, max_listeners_per_room=1, max_rooms=2, max_listeners=3) as (
        _, address
    ):
        first = await RoomListener.join(address, "one", "es")
        assert refused(await RoomListener.join(address, "one", "pt")) == ("capacity", 1013)  # room full
        second = await RoomListener.join(address, "two", "es")
        assert refused(await RoomListener.join(address, "three", "es")) == ("capacity", 1013)  # too many rooms
        await first.leave()
        await second.leave()


async def test_a_listener_is_refused_while_the_bus_is_unreachable_and_taken_once_it_is_back():
    """As a speaker is: nothing said in the room could reach it, so it is told at once, with when to try again."""
    bus = UnreachableBus()
    async with running_gateway(bus, CODEC) as (gateway, address):
        turned_away = await RoomListener.join(address, "aula", "es")
        bus.reachable = True
        taken = await RoomListener.join(address, "aula", "es")
        slots = gateway.listener_slots.in_use
        await taken.leave()
    assert refused(turned_away) == ("pipeline_unavailable", 1013) and len(turned_away.heard.messages) == 1
    assert turned_away.heard.messages[0]["retry_after_ms"] == 2000
    assert taken.heard.messages[0]["status"] == "connected" and slots == 1


async def test_the_gateways_listener_pool_is_its_own():
    async with running_gateway(MemoryBus(), CODEC, max_listeners=1, max_connections=1) as (_, address):
        first = await RoomListener.join(address, "one", "es")
        assert refused(await RoomListener.join(address, "two", "es")) == ("capacity", 1013)
        # A speaker's slot is not a listener's: the one speaker still gets in.
        talk = await stream(address, frames_of(silence(200)), start={"event": "start", "room": "one"})
        assert talk.close_code == 1000
        await first.leave()
        again = await RoomListener.join(address, "two", "es")  # the slot came back when the first left
        assert again.heard.messages[0]["status"] == "connected"
        await again.leave()


async def test_a_listener_sends_only_listen_messages():
    async with running_gateway(MemoryBus(), CODEC) as (_, address):
        listener = await RoomListener.join(address, "aula", "es")
        await listener.connection._ws.send(b"\x00\x00")
        await asyncio.wait_for(listener._task, 10)
        assert listener.heard.of_type("error")[0]["kind"] == "malformed" and listener.heard.close_code == 1003
        other = await RoomListener.join(address, "aula", "es")
        await other.connection._ws.send(json.dumps({"event": "start"}))
        await asyncio.wait_for(other._task, 10)
        assert other.heard.of_type("error")[0]["kind"] == "malformed" and other.heard.close_code == 1003


async def test_a_bad_room_in_the_start_message_is_malformed():
    async with running_gateway(MemoryBus(), CODEC) as (_, address):
        talk = await stream(address, [b"\0" * 640], start={"event": "start", "room": "no spaces"})
        assert talk.close_code == 1003 and talk.of_type("error")[0]["kind"] == "malformed"
        assert "room id" in talk.of_type("error")[0]["reason"]


async def test_tokens_restricted_to_a_room_and_a_role_are_enforced():
    def token(**claims) -> str:
        return mint_token(secret=SECRET, audience="babelstream", ttl_seconds=600, **claims)

    async with running_gateway(MemoryBus(), CODEC, jwt_secret=SECRET) as (_, address):
        allowed = await RoomListener.join(address, "aula", "es", token=token(room="aula", role="listener"))
        assert allowed.heard.messages[0]["status"] == "connected"
        elsewhere = await RoomListener.join(address, "other", "es", token=token(room="aula", role="listener"))
        assert refused(elsewhere) == ("forbidden", 1008)
        nobody = await RoomListener.join(address, "aula", "es")
        assert refused(nobody) == ("unauthenticated", 1008)
        # A listener's token may not speak into the room; a speaker's may, and may listen too.
        talk = await stream(address, frames_of(silence(200)), start={"event": "start", "room": "aula"},
                            token=token(room="aula", role="listener"))
        assert talk.close_code == 1008 and talk.of_type("error")[0]["kind"] == "forbidden"
        talk = await stream(address, frames_of(silence(200)), start={"event": "start", "room": "aula"},
                            token=token(room="aula", role="speaker"))
        assert talk.close_code == 1000
        speaker_listens = await RoomListener.join(address, "aula", "pt", token=token(room="aula", role="speaker"))
        assert speaker_listens.heard.messages[0]["status"] == "connected"
        for listener in (allowed, speaker_listens):
            await listener.leave()


async def test_a_listener_that_answers_no_ping_is_closed_one_that_does_stays():
    async with running_gateway(MemoryBus(), CODEC, listener_ping_seconds=0.3) as (gateway, address):
        alive = await RoomListener.join(address, "aula", "es")  # the websockets library answers pings
        dead = await RawSocket.open(address, path="/ws/listen?room=aula&lang=es")  # reads, never answers
        frames = []
        while not frames or frames[-1][0] != 0x8:  # until the close frame
            frames.append(await asyncio.wait_for(dead.next_frame(), 5))
        opcodes = [opcode for opcode, _ in frames]
        assert opcodes.count(0x9) >= 1  # it was pinged
        error = json.loads(next(payload for opcode, payload in frames if opcode == 0x1 and b'"error"' in payload))
        assert error["kind"] == "idle" and error["code"] == 1001
        assert int.from_bytes(frames[-1][1][:2], "big") == 1001
        await asyncio.sleep(0.7)  # two more pings: the live one answered them
        assert alive.heard.close_code is None and gateway.rooms.listener_count("aula") == 1
        dead.drop()
        await alive.leave()


async def test_in_a_conversation_a_speaker_sees_the_others_words_as_they_speak_them():
    bus = MemoryBus()

    async def speaker(address: str, language: str, partials: bool):
        socket = await connect(f"ws://{address}/ws/audio")
        assert json.loads(await socket.recv())["status"] == "connected"
        await socket.send(json.dumps({"event": "start", "language": language, "room": "charla", "partials": partials}))
        while json.loads(await socket.recv())["type"] != "ready":
            pass
        return socket

    async def heard(socket, until) -> list[dict]:
        got = []
        while not got or not until(got[-1]):
            got.append(json.loads(await asyncio.wait_for(socket.recv(), 5)))
        return got

    async with running_gateway(bus, CODEC) as (gateway, address):
        english = await speaker(address, "en", partials=True)
        spanish = await speaker(address, "es", partials=False)
        # Another speaker of the room (its own session elsewhere) is mid-sentence: its partial, translated into
        # the room's languages.
        await publish_all(bus, room_partials("charla", speaker="speaker-x", stable="Hola", unstable=" amigo",
                                             source="es", targets=("en", "pt")))
        got = await heard(english, lambda m: m.get("type") == "partial_translation")
        await publish_all(bus, room_results("charla", speaker="speaker-x", source="es", targets=("en",),
                                            text="Hola amigo."))
        finals = await heard(spanish, lambda m: m.get("type") == "transcript")  # the finals reach everyone
        await asyncio.sleep(0.2)
        assert [m["type"] for m in got if m["type"] != "audience"] == ["partial", "partial_translation"]
        partial, translated = (m for m in got if m["type"] != "audience")
        assert (partial["speaker"], partial["stable_text"], partial["unstable_text"]) == ("speaker-x", "Hola", " amigo")
        assert (translated["language"], translated["text"]) == ("en", "[en] Hola")  # its own language only
        # The speaker who did not ask for partials gets the others' finals, no interim results.
        assert finals[-1]["speaker"] == "speaker-x" and not [m for m in finals if m["type"].startswith("partial")]
        for socket in (english, spanish):
            await socket.close()
        assert gateway.metrics.room_deliveries.labels(type="partial")._value.get() == 1


async def test_a_room_speakers_partials_are_translated_only_into_languages_someone_reads_partials_in():
    from babelstream.contracts.topics import SPEECH_SEGMENT, SPEECH_WINDOW
    from tests.support.bus import collect, tail
    from tests.support.speech import synthesize

    bus = MemoryBus()
    async with running_gateway(bus, CODEC) as (gateway, address):
        spanish = await RoomListener.join(address, "aula", "es", partials=False)  # finals only
        portuguese = await RoomListener.join(address, "aula", "pt")
        windows, segments = await tail(bus, [SPEECH_WINDOW]), await tail(bus, [SPEECH_SEGMENT])
        talk = await stream(
            address, frames_of(silence(300) + synthesize("The house is big and the garden is green.") + silence(900)),
            pace_seconds=0.02,
            start={"event": "start", "language": "en", "room": "aula", "targets": ["fr"], "translate_partials": True,
                   "wait_for_results": False},
        )
        [(_, segment)] = await collect(bus, segments, {talk.correlation_id}, count=1, timeout=5)
        opened = [event for _, event in await collect(bus, windows, {talk.correlation_id}, count=2, timeout=5)]
        for listener in (spanish, portuguese):
            await listener.leave()
    assert talk.close_code == 1000 and opened
    # The utterance is translated into every language the room reads, and the speaker's own target...
    assert segment.payload.options.target_languages == ("es", "fr", "pt")
    # ...its partials only where someone reads them: the speaker's own target, and the Portuguese listener's.
    assert {event.payload.options.target_languages for event in opened} == {("fr", "pt")}
    assert all(event.payload.translate for event in opened)
