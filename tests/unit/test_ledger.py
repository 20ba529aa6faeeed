"""The session's ledger of outstanding results (gateway/ledger.py): when a segment is answered, whatever the order."""

from __future__ import annotations

import itertools

import pytest

from babelstream.contracts.events import AudioSynthesisPayload, SessionOptions, TextRecognizedPayload, TextTranslatedPayload
from babelstream.gateway.ledger import ResultLedger

OPTIONS = SessionOptions(source_language="en", target_languages=("es", "pt"))


def transcript(index: int) -> TextRecognizedPayload:
    return TextRecognizedPayload("The house is big.", "en", 0.9, index, 0, 1000, OPTIONS)


def translation(index: int, language: str) -> TextTranslatedPayload:
    return TextTranslatedPayload("…", "The house is big.", "en", language, "apertium", index, 0, 1000, OPTIONS)


def audio(index: int, language: str) -> AudioSynthesisPayload:
    return AudioSynthesisPayload(b"RIFF", 22050, 500, language, "espeak-ng", language, "…", index)


RESULTS = [transcript(0), translation(0, "es"), translation(0, "pt"), audio(0, "es"), audio(0, "pt")]


@pytest.mark.parametrize("order", list(itertools.permutations(range(len(RESULTS)))))
def test_a_segment_is_answered_whatever_order_its_results_arrive_in(order):
    """Results come on different topics, each partition with its own leader: while a broker fails over, a
    translation or its audio can overtake the transcript (tests/integration/test_cluster_faults.py)."""
    ledger = ResultLedger()
    ledger.segment_cut(0)
    ledger.stream_ended()
    seen = set()
    for which in order:
        # Answered once every result is in: an audio can overtake its own translation (bench/soak.py saw it).
        assert ledger.complete() == ({0, 1, 2, 3, 4} <= seen)
        ledger.record(RESULTS[which])
        seen.add(which)
    assert ledger.complete() and ledger.missing() == [] and ledger.segment_count == 1


def test_a_segment_waits_for_the_audio_of_every_target():
    ledger = ResultLedger()
    ledger.segment_cut(0)
    ledger.stream_ended()
    for result in (audio(0, "es"), transcript(0), translation(0, "es"), translation(0, "pt")):
        ledger.record(result)
    assert not ledger.complete() and ledger.missing() == [0]
    ledger.record(audio(0, "pt"))
    assert ledger.complete()


def test_a_late_result_of_an_answered_segment_changes_nothing():
    ledger = ResultLedger()
    ledger.segment_cut(0)
    ledger.stream_ended()
    for result in RESULTS:
        ledger.record(result)
    ledger.record(audio(0, "es"))  # redelivered
    ledger.record(translation(0, "pt"))
    assert ledger.complete() and ledger.segment_count == 1


def test_an_audio_that_overtakes_its_translation_does_not_answer_the_segment():
    """Found by the soak (docs/benchmarks/soak.md): on a session's last segment the gateway closed the session
    with the audio in and the translation text still on its way, and the client never got the translation."""
    ledger = ResultLedger()
    ledger.segment_cut(0)
    ledger.stream_ended()
    for result in (transcript(0), translation(0, "es"), audio(0, "es"), audio(0, "pt")):
        ledger.record(result)
    assert not ledger.complete() and ledger.missing() == [0]
    ledger.record(translation(0, "pt"))
    assert ledger.complete() and ledger.missing() == []


def test_a_resume_on_the_same_process_carries_over_what_the_old_session_knew_not_its_counts():
    """The in-memory bus may no longer hold segment 0's translation to read back: the old session's ledger says it
    came (a flaky fresh-clone failure: the resumed session's summary said segment 0 was missing)."""
    old = ResultLedger()
    for index in (0, 1):
        old.segment_cut(index)
    for result in RESULTS:  # segment 0 answered whole
        old.record(result)
    old.record(transcript(1))  # segment 1 still waits for its translations and audio
    old.sent("transcript")
    resumed = ResultLedger()
    resumed.carry_over(old)
    resumed.stream_ended()
    assert resumed.missing() == [1] and resumed.segment_count == 2 and resumed.counts["transcripts"] == 0
    for result in (translation(1, "es"), translation(1, "pt"), audio(1, "es"), audio(1, "pt"), transcript(0)):
        resumed.record(result)  # segment 0's transcript again (read back): changes nothing
    assert resumed.complete() and resumed.segment_count == 2
