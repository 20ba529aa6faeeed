"""The fuzzers of bench/fuzz_*.py, bounded: a few thousand seeded cases each, so a regression fails the build.

The full runs (a million cases each) and their figures: docs/benchmarks/fuzzing.md. A failure prints the
minimal reproducer the fuzzer shrank it to; `.venv/bin/python bench/fuzz_<target>.py --seed N` runs more.
"""

from __future__ import annotations

import pytest

from babelstream.gateway.errors import SessionEnded
from babelstream.gateway.requests import parse_text_message
from bench.fuzz_avro import AvroTarget
from bench.fuzz_connection import ConnectionTarget
from bench.fuzz_frames import FramesTarget
from bench.fuzz_handshake import HandshakeTarget
from bench.fuzz_start_message import StartMessageTarget
from bench.fuzzing import run

# Findings not fixed yet would be listed here (kind of failure by target), each with its reproducer below.
KNOWN: dict[str, frozenset[str]] = {}


@pytest.mark.parametrize("make_target, cases", [
    (FramesTarget, 6_000),
    (HandshakeTarget, 20_000),
    (StartMessageTarget, 20_000),
    (ConnectionTarget, 6_000),
    (AvroTarget, 10_000),
], ids=["frames", "handshake", "start_message", "connection", "avro"])
def test_fuzz_target_holds_its_properties(make_target, cases):
    target = make_target()
    outcome = run(target, cases=cases, seed=20_261_129)
    assert outcome.cases == cases
    assert outcome.memory_ok, outcome.report()
    assert outcome.failed(KNOWN.get(target.name, frozenset())) == [], outcome.report()


def test_deeply_nested_json_is_refused_as_malformed():
    """Found by the start-message fuzzer: RecursionError escaped the session's read (no 1003, no close)."""
    with pytest.raises(SessionEnded):
        parse_text_message("[" * 100_000)


def test_a_float_sample_rate_is_refused_or_made_an_integer():
    """Found by the start-message fuzzer: 22050.0 == 22050 passed the check and `ready` said 22050.0."""
    try:
        request = parse_text_message('{"event":"start","sample_rate_hz":22050.0}')
    except SessionEnded:
        return
    assert type(request.sample_rate_hz) is int


def test_the_frames_fuzzer_finds_a_planted_fast_path_bug(monkeypatch):
    """The oracle is alive: a fast path that also takes non-final binary frames is caught within the bounded run."""
    from babelstream.gateway.websocket.frames import WholeBinaryFrame

    exact = WholeBinaryFrame.payload

    def takes_non_final_frames(self, data):
        return exact(self, b"\x82" + data[1:] if data[:1] == b"\x02" else data)

    monkeypatch.setattr(WholeBinaryFrame, "payload", takes_non_final_frames)
    outcome = run(FramesTarget(), cases=6_000, seed=20_261_129)
    assert "fast path differs from feed" in outcome.failures, outcome.report()
