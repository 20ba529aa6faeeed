"""Interim results and the faster end of utterance, on the whole platform in one process (real models)."""

from __future__ import annotations

import pytest

from babelstream.engines.asr.local_agreement import agrees_with
from tests.support.harness import Conversation, frames_of, running_embedded_platform, stream
from tests.support.speech import silence, spoken_without_pauses, synthesize
from tests.support.word_times import loudness_gaps_ms, with_pauses, word_times

pytestmark = pytest.mark.models

# Several sentences spoken on, with no gap put between them: over 12 s in which no pause ends an utterance.
LONG_TALK = (
    "We walked along the beach for a long time and talked about the summer",
    "then everybody went home to have dinner with their families and friends",
    "and after dinner we sat outside and watched the stars until midnight",
)


@pytest.fixture(scope="module")
async def embedded():
    async with running_embedded_platform() as address:
        yield address


async def talk(address: str, pcm: bytes, **start) -> Conversation:
    return await stream(
        address, frames_of(silence(300) + pcm + silence(1200)),
        start={"event": "start", "language": "en", "targets": [], **start}, pace_seconds=0.02,
    )


def check_partials(conversation: Conversation) -> list[dict]:
    """Stable text only grows within an utterance; each final begins with it or says revised."""
    partials = conversation.of_type("partial")
    stable: dict[int, str] = {}
    for message in partials:
        before = stable.get(message["start_ms"], "")
        assert message["stable_text"].startswith(before), (before, message)
        stable[message["start_ms"]] = message["stable_text"]
    for transcript in conversation.of_type("transcript"):
        said = stable.get(transcript["start_ms"], "")
        assert transcript["revised"] == (not agrees_with(transcript["text"], said)), (said, transcript)
    return partials


async def test_long_speech_without_pauses_shows_partials_before_its_final(embedded):
    pcm = spoken_without_pauses(LONG_TALK)
    conversation = await talk(embedded, pcm)
    assert conversation.close_code == 1000
    assert conversation.of_type("ready")[0]["partials"] is True
    partials = check_partials(conversation)
    first_final = next(i for i, m in enumerate(conversation.messages) if m.get("type") == "transcript")
    before_final = [m for m in conversation.messages[:first_final] if m.get("type") == "partial"]
    # Partials all along the first utterance (about one a second, fewer when the machine is busy: stale windows
    # are skipped), and words made stable along the way.
    assert len(before_final) >= 5, [m["stable_text"] + "|" + m["unstable_text"] for m in partials]
    assert any(len(m["stable_text"].split()) >= 5 for m in before_final)
    assert "beach" in " ".join(m["stable_text"] + m["unstable_text"] for m in before_final).lower()
    # The audio each partial reached moves on with the speech.
    reached = [m["audio_ms"] for m in before_final]
    assert reached == sorted(reached) and reached[-1] - reached[0] >= 4000


async def test_partials_off_means_no_partial_messages(embedded):
    conversation = await talk(embedded, synthesize(LONG_TALK[0]), partials=False)
    assert conversation.close_code == 1000
    assert conversation.of_type("ready")[0]["partials"] is False
    assert conversation.of_type("partial") == []
    assert conversation.of_type("transcript") and not conversation.of_type("transcript")[0]["revised"]


# Sentences with a pause put between two words (where Whisper's word timestamps on the clean audio say one ends
# and the next begins): the faster end of utterance must not cut them there.
PAUSED = (
    ("I would like a cup of coffee and a piece of cake please.", 4),
    ("My brother lives in a small town near the mountains.", 1),
    ("The children are playing in the garden behind the house.", 2),
    ("We need to finish this report before the end of the week.", 5),
)


@pytest.mark.parametrize("pause_ms", [150, 200, 250])
async def test_a_short_pause_inside_a_sentence_does_not_split_it(embedded, pause_ms):
    pcm = silence(300)
    for text, after in PAUSED:
        clean = synthesize(text)
        paused = with_pauses(clean, word_times(clean), [after], pause_ms)
        assert loudness_gaps_ms(paused) >= pause_ms
        pcm += paused + silence(1000)
    conversation = await talk(embedded, pcm)
    transcripts = [m["text"] for m in conversation.of_type("transcript")]
    assert len(transcripts) == len(PAUSED), transcripts


async def test_partial_translations_translate_the_growing_stable_text_before_the_final(embedded):
    pcm = spoken_without_pauses(LONG_TALK)
    conversation = await talk(embedded, pcm, targets=["es"], synthesize=False, translate_partials=True)
    assert conversation.close_code == 1000
    assert conversation.of_type("ready")[0]["translate_partials"] is True
    partials = check_partials(conversation)
    stable_sent = {(m["start_ms"], m["stable_text"]) for m in partials}
    first_translation = next(i for i, m in enumerate(conversation.messages) if m.get("type") == "translation")
    early = [m for m in conversation.messages[:first_translation] if m.get("type") == "partial_translation"]
    # At least one (about one a second while the ASR and MT keep up; fewer on a busy machine).
    assert early, conversation.of_type("partial_translation")
    for message in conversation.of_type("partial_translation"):
        assert message["language"] == "es"
        # Only stable text is translated: each source is a stable text a partial of the same utterance carried.
        assert (message["start_ms"], message["source_text"]) in stable_sent, message
        assert message["text"].strip() and message["text"] != message["source_text"], message
    # Each translates more of its utterance than the one before, and none follows its utterance's transcript.
    sources: dict[int, str] = {}
    finished: set[int] = set()
    for message in conversation.messages:
        if message.get("type") == "transcript":
            finished.add(message["start_ms"])
        elif message.get("type") == "partial_translation":
            assert message["start_ms"] not in finished, message
            before = sources.get(message["start_ms"], "")
            assert message["source_text"].startswith(before) and len(message["source_text"]) > len(before)
            sources[message["start_ms"]] = message["source_text"]
    # Real Spanish, not the English passed through: words of the final translation of the same utterance.
    final = next(m for m in conversation.of_type("translation") if m["start_ms"] == early[0]["start_ms"])
    final_words = {word.strip(".,").lower() for word in final["text"].split() if len(word) > 3}
    assert any(final_words & {word.strip(".,").lower() for word in m["text"].split()} for m in early), (
        [m["text"] for m in early], final["text"])
    assert not any(final_words & {w.lower() for w in m["source_text"].split()} for m in early)


async def test_without_translate_partials_no_partial_translation_comes(embedded):
    conversation = await talk(embedded, synthesize(LONG_TALK[0]), targets=["es"], synthesize=False)
    assert conversation.close_code == 1000
    assert conversation.of_type("ready")[0]["translate_partials"] is False
    assert conversation.of_type("partial") and conversation.of_type("partial_translation") == []
    assert conversation.of_type("translation")
