"""Results on their way back: the per-session ledger of what is still outstanding, and the client messages.

A segment is answered when its transcript arrived and, for speech, one translation per target and (when
asked) one spoken audio per successful translation. Events are deduplicated by event_id: stages derive
ids from their input, so a redelivered message produces the same id and the client never sees it twice.
"""

from __future__ import annotations

import asyncio
import base64
import time
from dataclasses import dataclass, field

from babelstream.contracts.events import (
    AudioSynthesisPayload,
    Event,
    TextRecognizedPayload,
    TextTranslatedPayload,
)


@dataclass
class _SegmentProgress:
    cut_at: float  # perf_counter when the gateway published it (or the stream ended, for "single" mode)
    transcript: bool = False
    targets_waiting: set[str] = field(default_factory=set)

    @property
    def complete(self) -> bool:
        return self.transcript and not self.targets_waiting


class ResultLedger:
    """What one session is still waiting for. In "live" mode the gateway announces each segment it cuts;
    in "single" mode the segmenter stage cuts them and the gateway learns of them from their transcripts,
    the last one flagged `is_last`."""

    def __init__(self) -> None:
        self._segments: dict[int, _SegmentProgress] = {}
        self._seen: set[str] = set()
        self._segments_from_stage = False
        self._all_cut = False
        self._stream_end: float | None = None
        self._changed = asyncio.Event()
        self.counts = {"transcripts": 0, "translations": 0, "audio": 0, "warnings": 0}

    def expect_segments_from_stage(self) -> None:
        self._segments_from_stage = True

    def segment_cut(self, index: int) -> None:
        self._segments.setdefault(index, _SegmentProgress(time.perf_counter()))

    def stream_ended(self) -> None:
        """No more audio: in live mode every segment has been announced."""
        self._stream_end = time.perf_counter()
        if not self._segments_from_stage:
            self._all_cut = True
        self._changed.set()

    def first_time(self, event_id: str) -> bool:
        if event_id in self._seen:
            return False
        self._seen.add(event_id)
        return True

    def _progress(self, index: int) -> _SegmentProgress:
        if index not in self._segments:
            self._segments[index] = _SegmentProgress(self._stream_end or time.perf_counter())
        return self._segments[index]

    def latency_ms(self, index: int) -> float:
        return round((time.perf_counter() - self._progress(index).cut_at) * 1000, 1)

    def on_transcript(self, payload: TextRecognizedPayload) -> None:
        progress = self._progress(payload.segment_index)
        progress.transcript = True
        if payload.text:
            progress.targets_waiting = set(payload.options.target_languages)
        if payload.is_last and self._segments_from_stage:
            self._all_cut = True
        self._changed.set()

    def on_translation(self, payload: TextTranslatedPayload) -> None:
        progress = self._progress(payload.segment_index)
        if payload.error or not payload.options.synthesize or not payload.text.strip():
            progress.targets_waiting.discard(payload.target_language)
        self._changed.set()

    def on_audio(self, payload: AudioSynthesisPayload) -> None:
        self._progress(payload.segment_index).targets_waiting.discard(payload.language)
        self._changed.set()

    def complete(self) -> bool:
        return self._all_cut and all(p.complete for p in self._segments.values())

    def missing(self) -> list[int]:
        return sorted(i for i, p in self._segments.items() if not p.complete)

    @property
    def segment_count(self) -> int:
        return len(self._segments)

    async def wait_complete(self, timeout_seconds: float) -> bool:
        deadline = time.perf_counter() + timeout_seconds
        while not self.complete():
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                return False
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                return self.complete()
        return True


def stage_breakdown(event: Event) -> dict[str, float]:
    """Milliseconds each stage spent, plus the time spent between stages on the bus."""
    stages: dict[str, float] = {}
    bus_ms = 0.0
    previous = None
    for hop in event.timings:
        stages[hop.stage] = round(stages.get(hop.stage, 0.0) + hop.duration_ms, 2)
        if previous is not None:
            bus_ms += (hop.started_at - previous.finished_at).total_seconds() * 1000
        previous = hop
    stages["bus"] = round(bus_ms, 2)
    return stages


def client_message(event: Event, ledger: ResultLedger) -> dict | None:
    """The JSON a client receives for one result event (None: nothing to show, e.g. a silent segment)."""
    payload = event.payload
    if isinstance(payload, TextRecognizedPayload):
        ledger.on_transcript(payload)
        if not payload.text:
            return None
        ledger.counts["transcripts"] += 1
        return {
            "type": "transcript",
            "segment_index": payload.segment_index,
            "text": payload.text,
            "language": payload.language,
            "confidence": round(payload.confidence, 3),
            "start_ms": payload.start_ms,
            "end_ms": payload.end_ms,
            "latency_ms": ledger.latency_ms(payload.segment_index),
            "stage_ms": stage_breakdown(event),
            "event_id": event.event_id,
        }
    if isinstance(payload, TextTranslatedPayload):
        ledger.on_translation(payload)
        if payload.error:
            ledger.counts["warnings"] += 1
            return {
                "type": "warning",
                "code": "translation_unavailable",
                "reason": payload.error,
                "segment_index": payload.segment_index,
                "source_language": payload.source_language,
                "target_language": payload.target_language,
            }
        ledger.counts["translations"] += 1
        return {
            "type": "translation",
            "segment_index": payload.segment_index,
            "source_language": payload.source_language,
            "target_language": payload.target_language,
            "text": payload.text,
            "source_text": payload.source_text,
            "engine": payload.engine,
            "via": payload.via,
            "start_ms": payload.start_ms,
            "end_ms": payload.end_ms,
            "latency_ms": ledger.latency_ms(payload.segment_index),
            "stage_ms": stage_breakdown(event),
            "event_id": event.event_id,
        }
    if isinstance(payload, AudioSynthesisPayload):
        ledger.on_audio(payload)
        if payload.error:
            ledger.counts["warnings"] += 1
            return {
                "type": "warning",
                "code": "speech_unavailable",
                "reason": payload.error,
                "segment_index": payload.segment_index,
                "language": payload.language,
            }
        ledger.counts["audio"] += 1
        return {
            "type": "audio",
            "segment_index": payload.segment_index,
            "language": payload.language,
            "text": payload.text,
            "format": payload.audio_format,
            "sample_rate_hz": payload.sample_rate_hz,
            "duration_ms": payload.duration_ms,
            "voice": payload.voice,
            "engine": payload.engine,
            "latency_ms": ledger.latency_ms(payload.segment_index),
            "stage_ms": stage_breakdown(event),
            "audio_b64": base64.b64encode(payload.audio_bytes).decode("ascii"),
            "event_id": event.event_id,
        }
    return None
