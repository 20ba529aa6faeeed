"""The whole platform in one process on the in-memory bus (what `make run` starts), with real models."""

from __future__ import annotations

import pytest

from tests.support.harness import frames_of, running_embedded_platform, stream
from tests.support.pipeline_checks import UTTERANCES, check_translated_talk, speak
from tests.support.speech import silence

pytestmark = pytest.mark.models


@pytest.fixture(scope="module")
async def embedded():
    async with running_embedded_platform() as address:
        yield address


async def test_english_speech_is_transcribed_translated_and_spoken(embedded):
    utterances = [*UTTERANCES, UTTERANCES[0]]
    talk, arrivals = await speak(embedded, targets=("es", "pt"), utterances=utterances)
    check_translated_talk(talk, targets=("es", "pt"), utterances=utterances)
    # Live: the first utterance's translation arrives while the second is still being spoken.
    first_translation = next(t for t, m in arrivals if m.get("type") == "translation")
    ack = next(t for t, m in arrivals if m.get("type") == "ack")
    assert first_translation < ack - 1.0


async def test_silence_yields_no_transcript(embedded):
    talk = await stream(embedded, frames_of(silence(3000)), start={"event": "start", "targets": ["es"]})
    assert talk.close_code == 1000
    assert talk.of_type("transcript") == [] and talk.of_type("translation") == []
    assert talk.of_type("summary")[0]["complete"]


async def test_single_mode_recording_is_split_by_the_segmenter_stage(embedded):
    talk, _ = await speak(embedded, mode="single")
    check_translated_talk(talk)


async def test_unsupported_pair_is_named_with_what_is_available(embedded):
    talk, _ = await speak(embedded, targets=("es", "ja"))
    warning = talk.of_type("warning")[0]
    assert warning["code"] == "unsupported_pair" and "en->ja" in warning["reason"]
    assert "en-es" in warning["available"]
    check_translated_talk(talk, targets=("es",))


async def test_unknown_source_language_is_refused_clearly(embedded):
    talk = await stream(embedded, [b"\0" * 640], start={"event": "start", "language": "xx"})
    assert talk.close_code == 1003 and "cannot be recognised" in talk.of_type("error")[0]["reason"]
