"""PipelineLoad's latency rule on its own: the P95 of recent end-of-utterance latencies decides."""

from __future__ import annotations

from babelstream.bus.memory import MemoryBus
from babelstream.gateway.pipeline_load import PipelineLoad
from babelstream.gateway.settings import GatewaySettings


def load(**settings) -> PipelineLoad:
    return PipelineLoad(GatewaySettings(**settings), MemoryBus())


def test_a_slow_p95_refuses_and_a_fast_one_admits():
    slow = load(admission_max_p95_ms=1000)
    for ms in [300] * 18 + [2500, 2600]:  # the slowest 10% over the bound: the P95 is
        slow.observe(ms)
    refusal = slow.refusal()
    assert refusal is not None and refusal.code == 1013 and refusal.kind == "overloaded"
    assert "2.5 s (P95)" in refusal.reason and refusal.details == {"retry_after_ms": 5000}
    fast = load(admission_max_p95_ms=1000)
    for ms in [300] * 19 + [2500]:  # one slow one in twenty is the P95's 5%: not over
        fast.observe(ms)
    assert fast.refusal() is None


def test_too_few_samples_or_a_check_turned_off_never_refuse():
    few = load(admission_max_p95_ms=1000)
    for ms in (5000, 5000, 5000, 5000):
        few.observe(ms)
    assert few.p95_ms() is None and few.refusal() is None
    off = load(admission_max_p95_ms=0)
    for ms in [5000] * 50:
        off.observe(ms)
    assert off.refusal() is None


def test_latencies_older_than_the_window_are_forgotten():
    window = load(admission_max_p95_ms=1000, admission_window_seconds=0.0)
    for ms in [5000] * 50:
        window.observe(ms)
    assert window.p95_ms() is None and window.refusal() is None
