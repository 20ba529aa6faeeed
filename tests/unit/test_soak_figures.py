"""bench/soak.py's accounting: what counts as lost, refused or heard as silence, and the memory slope."""

from __future__ import annotations

from babelstream.clients.probe import SessionResult, UtteranceRecord
from bench.soak import SessionOutcome, Sample, losses, per_minute, slope_mb_per_10_min

TARGETS = ("es", "pt")


def utterance(broken: str | None = None, at_s: float = 30.0, es_ms: float = 500.0) -> UtteranceRecord:
    record = UtteranceRecord(0, 0, "The house is big.", 1200, 155, at_s=at_s, broken=broken)
    if broken is None:
        record.translation_ms = {"es": es_ms, "pt": es_ms + 10}
    return record


def session(utterances: list[UtteranceRecord], *, complete: bool = True, refused: bool = False,
            close_code: int = 1000) -> SessionOutcome:
    trace = SessionResult(0, 0, "c1", 1013 if refused else close_code, "refused 1013 overloaded: busy" if refused else None,
                          None, utterances, 0)
    summary = None if refused else {"complete": complete, "segments": len(utterances), "transcripts": len(utterances),
                                    "translations": 2 * len(utterances), "audio": 2 * len(utterances),
                                    "missing_segments": [] if complete else [3]}
    return SessionOutcome(trace, 60.0, refused, summary)


def test_a_missing_result_is_lost_silence_is_apart_and_a_refusal_is_not_lost():
    outcomes = [
        session([utterance(), utterance("segment 2: no transcript")]),  # complete: the ASR heard no speech
        session([utterance("segment 3: no pt audio")], complete=False),  # the results never came
        session([utterance("refused 1013 overloaded: busy")], refused=True),
    ]
    loss = losses(outcomes, TARGETS)
    assert loss["utterances_spoken"] == 3
    assert loss["utterances_lost"] == 1
    assert loss["lost_reasons"] == {"segment 3: no pt audio": 1}
    assert loss["utterances_heard_as_silence"] == 1
    assert loss["sessions_refused"] == 1
    assert loss["sessions_incomplete"] == 1
    assert loss["missing_segments"] == 1
    assert loss["close_codes"] == {"1000": 2, "1013": 1}


def test_a_missing_transcript_in_an_incomplete_session_is_lost():
    loss = losses([session([utterance("segment 2: no transcript")], complete=False)], TARGETS)
    assert (loss["utterances_lost"], loss["utterances_heard_as_silence"]) == (1, 0)


def test_memory_slope_is_mb_per_10_minutes():
    assert slope_mb_per_10_min([(m, 100 + 0.5 * m) for m in range(11, 61)]) == 5.0
    assert slope_mb_per_10_min([(m, 300.0) for m in range(11, 61)]) == 0.0
    assert slope_mb_per_10_min([(11, 1.0), (12, 2.0)]) is None  # too few minutes to say


def test_each_utterance_counts_in_the_minute_it_ended_in():
    samples = [Sample(t, {"asr": 300.0 + t / 60}, {"asr": int(t // 60)}, "1.00 1.00 1.00") for t in (10.0, 50.0, 70.0)]
    outcomes = [session([utterance(at_s=20.0, es_ms=400.0), utterance(at_s=65.0, es_ms=900.0)])]
    first, second = per_minute(samples, outcomes, "es", 2)
    assert (first["utterances"], first["p50_ms"], first["lag_max"]) == (1, 400.0, {"asr": 0})
    assert (second["utterances"], second["p95_ms"], second["lag_max"]) == (1, 900.0, {"asr": 1})
    assert second["rss_mb"]["asr"] == round(300.0 + 70.0 / 60, 1)


def test_cpu_per_minute_is_the_difference_between_minutes():
    samples = [Sample(50.0, {}, {}, "1 1 1", {"asr": 10.0}), Sample(110.0, {}, {}, "1 1 1", {"asr": 40.0})]
    _, second = per_minute(samples, [], "es", 2)
    assert second["cpu_s"] == {"asr": 30.0}  # 30 CPU seconds over 60 s of wall time
