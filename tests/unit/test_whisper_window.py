"""The encoder's input width (engines/asr/whisper.py `_window_frames`): few widths, so the model's native memory,
which grows with every input shape it meets, stays flat over a long talk (docs/benchmarks/rooms.md)."""

from babelstream.engines.asr.whisper import _window_frames


def test_widths_are_rounded_up_to_whole_seconds_between_the_minimum_and_30_s():
    assert _window_frames(300, 1000, 100) == 1000  # 3 s of speech: the 10 s minimum
    assert _window_frames(501, 1000, 100) == 1100  # twice 5.01 s, rounded up to 11 s
    assert _window_frames(550, 1000, 100) == 1100
    assert _window_frames(1499, 1000, 100) == 3000  # capped at Whisper's 30 s
    assert _window_frames(501, 1000, 1) == 1002  # step 1: a width per length, as before


def test_every_utterance_length_meets_at_most_21_widths():
    assert len({_window_frames(frames, 1000, 100) for frames in range(1, 3001)}) == 21
    assert len({_window_frames(frames, 1000, 1) for frames in range(1, 3001)}) == 1001
