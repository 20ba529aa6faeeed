"""Rooms with real speech through the whole embedded platform (what `make run` serves): conversation mode both
ways, and `babelstream listen` printing a room's captions in a terminal."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from tests.support.harness import frames_of, running_embedded_platform, stream
from tests.support.pipeline_checks import UTTERANCES, talk_pcm
from tests.support.rooms import RoomListener
from tests.support.speech import silence, synthesize

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
