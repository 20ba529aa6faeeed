"""The endpointer's tentative utterances (speculative finalisation) and its view of the open utterance."""

from __future__ import annotations

from babelstream.engines.vad.endpointer import Endpointer
from babelstream.engines.vad.utterance import FINAL, TENTATIVE, WITHDRAWN

RATE = 16_000
FRAME_MS = 20
BYTES_PER_MS = RATE * 2 // 1000


class LoudnessVad:
    """A frame is speech when any of its samples is non-zero."""

    frame_ms = FRAME_MS
    sample_rate_hz = RATE

    def is_speech(self, frame: bytes) -> bool:
        return any(frame)


def speech(ms: int) -> bytes:
    return b"\x10\x00" * (ms * BYTES_PER_MS // 2)


def quiet(ms: int) -> bytes:
    return bytes(ms * BYTES_PER_MS)


def make(**settings) -> Endpointer:
    return Endpointer(LoudnessVad(), min_silence_ms=300, pre_roll_ms=200, post_roll_ms=200, speculate_ms=140, **settings)


def kinds(utterances) -> list[tuple[str, int, int]]:
    return [(u.kind, u.start_ms, u.end_ms) for u in utterances]


def test_a_pause_that_holds_gives_a_tentative_then_the_final_utterance():
    endpointer = make()
    utterances = endpointer.feed(quiet(1000) + speech(1000) + quiet(1000))
    # Tentative at 140 ms of silence (7 frames of 20 ms), covering the audio up to then; the final as without it.
    assert kinds(utterances) == [(TENTATIVE, 800, 2140), (FINAL, 800, 2200)]
    assert utterances[0].pcm == quiet(200) + speech(1000) + quiet(140)


def test_speech_that_resumes_withdraws_the_tentative_and_the_utterance_goes_on():
    endpointer = make()
    utterances = endpointer.feed(quiet(1000) + speech(1000) + quiet(200) + speech(500) + quiet(1000))
    assert kinds(utterances) == [
        (TENTATIVE, 800, 2140), (WITHDRAWN, 800, 2140), (TENTATIVE, 800, 2840), (FINAL, 800, 2900),
    ]
    assert utterances[1].pcm == b""
    assert utterances[-1].pcm == quiet(200) + speech(1000) + quiet(200) + speech(500) + quiet(200)


def test_a_pause_shorter_than_the_speculation_offers_nothing():
    utterances = make().feed(quiet(500) + speech(600) + quiet(100) + speech(600) + quiet(1000))
    assert [u.kind for u in utterances] == [TENTATIVE, FINAL]


def test_commit_tentative_ends_the_utterance_at_the_offer_and_the_rest_starts_afresh():
    endpointer = make()
    assert [u.kind for u in endpointer.feed(quiet(1000) + speech(1000) + quiet(160))] == [TENTATIVE]
    assert endpointer.commit_tentative()
    assert not endpointer.in_speech and not endpointer.commit_tentative()
    # The pause goes on, then another utterance: the committed one is not emitted again.
    utterances = endpointer.feed(quiet(600) + speech(500) + quiet(1000))
    assert kinds(utterances) == [(TENTATIVE, 2560, 3400), (FINAL, 2560, 3460)]


def test_no_commit_once_speech_resumed():
    endpointer = make()
    endpointer.feed(quiet(500) + speech(500) + quiet(160) + speech(100))
    assert not endpointer.commit_tentative()
    assert endpointer.in_speech


def test_off_by_default_and_when_not_shorter_than_the_pause():
    for endpointer in (
        Endpointer(LoudnessVad(), min_silence_ms=300),
        Endpointer(LoudnessVad(), min_silence_ms=300, speculate_ms=300),
    ):
        assert [u.kind for u in endpointer.feed(quiet(500) + speech(500) + quiet(1000))] == [FINAL]


def test_the_open_utterance_is_readable_from_any_point():
    endpointer = make()
    endpointer.feed(quiet(1000) + speech(700))
    assert endpointer.in_speech and endpointer.open_start_ms == 800 and endpointer.stream_ms == 1700
    assert endpointer.open_audio_since(800) == quiet(200) + speech(700)
    assert endpointer.open_audio_since(1500) == speech(200)


class HangoverVad(LoudnessVad):
    """Speech while any sample is non-zero, and for 100 ms after (as WebRTC's detector keeps saying speech)."""

    def __init__(self):
        self.since_speech = 99

    def is_speech(self, frame: bytes) -> bool:
        self.since_speech = 0 if any(frame) else self.since_speech + 1
        return self.since_speech <= 100 // FRAME_MS


def loud(ms: int) -> bytes:
    return b"\x00\x10" * (ms * BYTES_PER_MS // 2)  # 4096: about -18 dBFS


def with_hangover(**settings) -> Endpointer:
    return Endpointer(HangoverVad(), min_silence_ms=300, pre_roll_ms=200, post_roll_ms=200, speculate_ms=140,
                      **settings)


def test_a_detectors_quiet_hangover_counts_as_pause_for_the_offer_and_the_cut():
    # Without quiet_dbfs the 100 ms of hangover delay both: the offer comes at 240 ms of real silence, the cut at 400.
    endpointer = with_hangover()
    endpointer.feed(quiet(1000) + loud(1000))
    assert [u.kind for u in endpointer.feed(quiet(100 + 280))] == [TENTATIVE]
    assert [u.kind for u in endpointer.feed(quiet(20))] == [FINAL]
    # With it, at 140 and 300 ms of real silence; the utterance is the same.
    endpointer = with_hangover(quiet_dbfs=-50.0)
    endpointer.feed(quiet(1000) + loud(1000))
    assert endpointer.feed(quiet(120)) == []
    assert kinds(endpointer.feed(quiet(20))) == [(TENTATIVE, 800, 2140)]
    assert endpointer.feed(quiet(140)) == []
    assert kinds(endpointer.feed(quiet(20))) == [(FINAL, 800, 2300)]


class LateOnsetVad(HangoverVad):
    """HangoverVad that calls a word speech only from its second loud frame (as detectors lag at an onset)."""

    def __init__(self):
        super().__init__()
        self.previous_loud = False

    def is_speech(self, frame: bytes) -> bool:
        loud_now, onset_seen = any(frame), self.previous_loud
        self.previous_loud = loud_now
        return super().is_speech(frame if onset_seen else bytes(len(frame)))


def test_a_word_starting_again_that_the_detector_has_not_called_speech_yet_holds_the_cut():
    # 280 ms of silence, then a word whose first frame the detector still calls silence: the pause so counted
    # reaches 300 ms on that frame, but the frame is loud, so the cut waits and the speaker goes on.
    endpointer = Endpointer(LateOnsetVad(), min_silence_ms=300, pre_roll_ms=200, post_roll_ms=200,
                            speculate_ms=140, quiet_dbfs=-50.0)
    found = endpointer.feed(quiet(1000) + loud(1000) + quiet(280) + loud(500) + quiet(1000))
    assert [(u.kind, u.start_ms) for u in found if u.kind == FINAL] == [(FINAL, 820)]  # one utterance
    assert [u.kind for u in found] == [TENTATIVE, WITHDRAWN, TENTATIVE, FINAL]
    # A loud frame alone, that the detector never calls speech (a click), holds the cut while it is one of the
    # latest two frames.
    endpointer = Endpointer(LateOnsetVad(), min_silence_ms=300, pre_roll_ms=200, post_roll_ms=200,
                            speculate_ms=140, quiet_dbfs=-50.0)
    endpointer.feed(quiet(1000) + loud(1000) + quiet(280))
    assert endpointer.feed(loud(20)) == []
    assert endpointer.feed(quiet(20)) == []
    assert [u.kind for u in endpointer.feed(quiet(20))] == [FINAL]


def test_pause_ms_counts_the_quiet_hangover_and_is_zero_while_speaking():
    endpointer = with_hangover(quiet_dbfs=-50.0)
    endpointer.feed(quiet(500) + loud(500))
    assert endpointer.pause_ms == 0
    endpointer.feed(quiet(80))  # all hangover: the detector still says speech, the audio is silent
    assert endpointer.pause_ms == 0  # nothing the detector called silence yet: no pause started
    endpointer.feed(quiet(60))
    assert endpointer.pause_ms == 140
    without = with_hangover()
    without.feed(quiet(500) + loud(500) + quiet(140))
    assert without.pause_ms == 40


def test_a_quiet_tail_is_never_longer_than_the_cap_nor_louder_than_the_threshold():
    endpointer = with_hangover(quiet_dbfs=-80.0)  # 0x10 is about -66 dBFS: loud enough not to be quiet here
    endpointer.feed(quiet(500) + speech(500) + quiet(120))
    assert endpointer.pause_ms == 100 + 20  # the 100 ms of hangover were silence, and are counted
    loud_tail = Endpointer(LoudnessVad(), min_silence_ms=300, speculate_ms=140, quiet_dbfs=-80.0)
    loud_tail.feed(quiet(500) + speech(500) + quiet(20))
    assert loud_tail.pause_ms == 20  # the speech itself is not quiet at -80 dBFS
