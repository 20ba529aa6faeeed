"""Prometheus metrics of the stages in one process (their own registry, so several can live in one test process).

A `StageMetrics` is the `StageObserver` every runner of the process reports to; the `stage` label tells them
apart. Per event it costs a few additions on label children looked up once per stage.
"""

from __future__ import annotations

from typing import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from babelstream.contracts.events import Event, SpeechSegmentPayload

# handle() of a stage ranges from a millisecond (Apertium, the segmenter) to seconds (Whisper on a long utterance).
_PROCESSING_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
# Seconds of work per second of audio; above 1 the stage falls behind live speech.
_REAL_TIME_FACTOR_BUCKETS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 5)


def audio_seconds(event: Event) -> float | None:
    """Seconds of speech the event carries, when its type says so without decoding its audio."""
    payload = event.payload
    if isinstance(payload, SpeechSegmentPayload) and payload.end_ms > payload.start_ms:
        return (payload.end_ms - payload.start_ms) / 1000
    return None


class _StageSeries:
    """One stage's label children, looked up once rather than per event."""

    __slots__ = ("handled", "dead_lettered", "processing", "real_time_factor")

    def __init__(self, metrics: StageMetrics, stage: str):
        self.handled = metrics.events.labels(stage=stage, outcome="handled")
        self.dead_lettered = metrics.events.labels(stage=stage, outcome="dead_lettered")
        self.processing = metrics.processing.labels(stage=stage)
        self.real_time_factor = None  # made at the first event with audio: no empty series for the other stages


class StageMetrics:
    def __init__(self, stages: Iterable[str] = ()) -> None:
        """`stages`: the process's, whose counters show 0 from the start rather than appear with their first event."""
        self.registry = CollectorRegistry()
        self.events = Counter(
            "babelstream_stage_events_total",
            "Input events a stage finished with, by outcome (handled, dead_lettered)",
            ["stage", "outcome"],
            registry=self.registry,
        )
        self.processing = Histogram(
            "babelstream_stage_processing_seconds",
            "Time in the stage's handle() per event handled (decoding, publishing and committing excluded)",
            ["stage"],
            buckets=_PROCESSING_BUCKETS,
            registry=self.registry,
        )
        self.dead_letters = Counter(
            "babelstream_stage_dead_letters_total",
            "Input events sent to speech.dead_letter, by the error's type",
            ["stage", "reason"],
            registry=self.registry,
        )
        self.consumer_lag = Gauge(
            "babelstream_stage_consumer_lag",
            "Messages on a partition this process consumes that its group has not consumed yet (at the last scrape)",
            ["stage", "topic", "partition"],
            registry=self.registry,
        )
        self.real_time_factor = Histogram(
            "babelstream_stage_real_time_factor",
            "handle() seconds per second of audio, for stages whose input carries audio (asr)",
            ["stage"],
            buckets=_REAL_TIME_FACTOR_BUCKETS,
            registry=self.registry,
        )
        self._series: dict[str, _StageSeries] = {}
        self._lag_labels: dict[str, set[tuple[str, str]]] = {}
        for stage in stages:
            self._of(stage)

    def _of(self, stage: str) -> _StageSeries:
        series = self._series.get(stage)
        if series is None:
            series = self._series[stage] = _StageSeries(self, stage)
        return series

    def handled(self, stage: str, event: Event, seconds: float) -> None:
        series = self._of(stage)
        series.handled.inc()
        series.processing.observe(seconds)
        audio = audio_seconds(event)
        if audio:
            if series.real_time_factor is None:
                series.real_time_factor = self.real_time_factor.labels(stage=stage)
            series.real_time_factor.observe(seconds / audio)

    def dead_lettered(self, stage: str, error: Exception) -> None:
        self._of(stage).dead_lettered.inc()
        # The error's type, never its text: a label's values must stay few.
        self.dead_letters.labels(stage=stage, reason=type(error).__name__).inc()

    def set_lags(self, stage: str, lags: dict[tuple[str, int], int]) -> None:
        """The stage's partitions now; a partition it no longer consumes (a rebalance moved it) drops out."""
        current = {(topic, str(partition)) for topic, partition in lags}
        for topic, partition in self._lag_labels.get(stage, set()) - current:
            self.consumer_lag.remove(stage, topic, partition)
        for (topic, partition), lag in lags.items():
            self.consumer_lag.labels(stage=stage, topic=topic, partition=str(partition)).set(lag)
        self._lag_labels[stage] = current
