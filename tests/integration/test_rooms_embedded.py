"""Rooms with real speech through the whole embedded platform (what `make run` serves): conversation mode both
ways, and `babelstream listen` printing a room's captions in a terminal."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from babelstream.engines.asr.local_agreement import agrees_with
from tests.support.harness import frames_of, running_embedded_platform, stream
from tests.support.pipeline_checks import UTTERANCES, talk_pcm
from tests.support.rooms import RoomListener
from tests.support.speech import silence, spoken_without_pauses, synthesize

pytestmark = pytest.mark.models

SPANISH = "La casa es muy grande."


@pytest.fixture(scope="module")
async def embedded():
    async with running_embedded_platform() as address:
        yield address


async def test_conversation_mode_each_speaker_hears_the_other_in_its_own_language(embedded):
    english = talk_pcm(UTTERANCES[:1])
    spanish = synthesize(SPANISH, voice="es")
    # Each speaks while the other is quiet (but connected): A first, then B.
    a_audio = english + silence(len(spanish) // 32 + 4000)
    b_audio = silence(len(english) // 32 + 500) + spanish + silence(1000)
    room = "conversation-1"
    a, b = await asyncio.gather(
        stream(embedded, frames_of(a_audio), pace_seconds=0.02,
               start={"event": "start", "room": room, "language": "en", "targets": []}),
        stream(embedded, frames_of(b_audio), pace_seconds=0.02,
               start={"event": "start", "room": room, "language": "es", "targets": []}),
    )
    assert a.close_code == 1000 and b.close_code == 1000
    # A's own transcript, and B's words: the Spanish transcript and its English translation, from the room.
    a_own = [m for m in a.of_type("transcript") if "speaker" not in m]
    assert "house" in a_own[0]["text"].lower()
    from_b = [m for m in a.of_type("translation") if m.get("speaker") == b.correlation_id]
    assert from_b and from_b[0]["target_language"] == "en" and "house" in from_b[0]["text"].lower()
    assert [m for m in a.of_type("transcript") if m.get("speaker") == b.correlation_id][0]["language"] == "es"
    # B hears A in Spanish, spoken too (its synthesize is on).
    from_a = [m for m in b.of_type("translation") if m.get("speaker") == a.correlation_id]
    assert from_a and from_a[0]["target_language"] == "es" and "casa" in from_a[0]["text"].lower()
    assert [m["language"] for m in b.of_type("audio") if m.get("speaker") == a.correlation_id] == ["es"]
    # Nobody gets its own words back through the room.
    assert not [m for m in a.messages if m.get("speaker") == a.correlation_id]


async def test_babelstream_listen_prints_a_rooms_captions_and_translation(embedded):
    room = "terminal-1"
    command = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "babelstream"), "listen", "--room", room, "--lang", "es",
        "--url", f"ws://{embedded}", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ},
    )
    try:
        first = await asyncio.wait_for(command.stdout.readline(), 30)
        assert first.decode().startswith(f"listening to room {room} in es")
        talk = await stream(embedded, frames_of(talk_pcm(UTTERANCES[:1])), pace_seconds=0.02,
                            start={"event": "start", "room": room, "language": "en"})
        assert talk.close_code == 1000
        lines = []
        while not any(" es: " in line for line in lines):
            lines.append((await asyncio.wait_for(command.stdout.readline(), 30)).decode())
        assert "en: The house is big" in lines[0]
        assert "casa" in next(line for line in lines if " es: " in line).lower()
    finally:
        command.terminate()
        await command.wait()


async def test_a_listener_that_joins_mid_talk_gets_the_next_utterance_in_its_language(embedded):
    room = "mid-talk-1"
    spanish = await RoomListener.join(embedded, room, "es")
    joined = {}

    async def join_after_first_transcript() -> None:
        await spanish.heard.wait_for(lambda m: m.get("type") == "transcript", timeout=60)
        joined["pt"] = await RoomListener.join(embedded, room, "pt")

    joiner = asyncio.create_task(join_after_first_transcript())
    talk = await stream(embedded, frames_of(talk_pcm(UTTERANCES)), pace_seconds=0.02,
                        start={"event": "start", "room": room, "language": "en"})
    await joiner
    portuguese = joined["pt"]
    await portuguese.heard.wait_for(lambda m: m.get("type") == "translation" and not m["history"], timeout=30)
    assert talk.close_code == 1000
    live = portuguese.heard.of_type("translation", history=False)
    assert [m["segment_index"] for m in live] == [1]  # from the next utterance on
    assert live[0]["target_language"] == "pt" and "café" in live[0]["text"].lower()
    for listener in (spanish, portuguese):
        await listener.leave()


# Several sentences spoken on with no gap: one long utterance, so its partials come well before its final.
LONG_TALK = (
    "We walked along the beach for a long time and talked about the summer",
    "then everybody went home to have dinner with their families and friends",
)


async def test_room_listeners_read_the_words_while_the_speaker_speaks_in_their_own_language(embedded):
    room = "partials-1"
    portuguese = await RoomListener.join(embedded, room, "pt", voice=False)
    quiet = await RoomListener.join(embedded, room, "pt", voice=False, partials=False)
    talk = await stream(
        embedded, frames_of(silence(300) + spoken_without_pauses(LONG_TALK) + silence(1200)), pace_seconds=0.02,
        start={"event": "start", "room": room, "language": "en", "targets": [], "synthesize": False,
               "translate_partials": True},
    )
    assert talk.close_code == 1000
    # The speaker named no targets: it gets its partials, not the room's partial translations.
    assert talk.of_type("partial") and talk.of_type("partial_translation") == []
    await portuguese.heard.wait_for(lambda m: m.get("type") == "translation", timeout=60)
    await quiet.heard.wait_for(lambda m: m.get("type") == "translation", timeout=30)
    heard = portuguese.heard.messages
    first_final = next(i for i, m in enumerate(heard) if m.get("type") == "transcript")
    partials = [m for m in heard[:first_final] if m.get("type") == "partial"]
    assert len(partials) >= 3, portuguese.heard.of_type("partial")
    assert all(m["speaker"] == talk.correlation_id and m["room"] == room and m["history"] is False for m in partials)
    stable: dict[int, str] = {}
    for message in portuguese.heard.of_type("partial"):
        assert message["stable_text"].startswith(stable.get(message["start_ms"], "")), message
        stable[message["start_ms"]] = message["stable_text"]
    assert "beach" in " ".join(m["stable_text"] + m["unstable_text"] for m in partials).lower()
    # Partial translations in the listener's language, of stable text it was shown, before the final translation.
    first_translation = next(i for i, m in enumerate(heard) if m.get("type") == "translation")
    translated = [m for m in heard[:first_translation] if m.get("type") == "partial_translation"]
    assert translated, portuguese.heard.of_type("partial_translation")
    shown = {(m["start_ms"], m["stable_text"]) for m in portuguese.heard.of_type("partial")}
    for message in translated:
        assert message["language"] == "pt" and message["speaker"] == talk.correlation_id
        assert (message["start_ms"], message["source_text"]) in shown and message["text"] != message["source_text"]
    # None after its utterance's transcript; the transcript says whether it disagrees with what was shown.
    finished: set[int] = set()
    for message in heard:
        if message.get("type") == "transcript":
            finished.add(message["start_ms"])
            assert message["revised"] == (not agrees_with(message["text"], stable.get(message["start_ms"], "")))
        elif message.get("type") in ("partial", "partial_translation"):
            assert message["start_ms"] not in finished, message
    # partials=0: the finals only.
    assert quiet.heard.of_type("listening")[0]["partials"] is False
    assert not quiet.heard.of_type("partial") and not quiet.heard.of_type("partial_translation")
    assert [m["text"] for m in quiet.heard.of_type("translation")] == [
        m["text"] for m in portuguese.heard.of_type("translation")]
    # A late joiner's history is the finals only.
    late = await RoomListener.join(embedded, room, "pt", voice=False)
    await late.heard.wait_for(lambda m: m.get("type") == "translation", timeout=30)
    listening = late.heard.of_type("listening")[0]
    history = late.heard.messages[2:2 + listening["history"]]
    assert history and {m["type"] for m in history} == {"transcript", "translation"}
    assert all(m["history"] is True for m in history)
    for listener in (portuguese, quiet, late):
        await listener.leave()
