"""Results on their way back: the per-session ledger of what is still outstanding.

A segment is answered when its transcript arrived and, for speech, one translation per target and (when
asked) one spoken audio per successful translation. Events are deduplicated by event_id: stages derive
ids from their input, so a redelivered message produces the same id and the client never sees it twice.

A room's speaker may talk for hours: an answered segment is forgotten (only counted), and so are event ids beyond
the newest few thousand (a redelivery comes within seconds), so the ledger stays small however long the talk.
"""

from __future__ import annotations

import asyncio
import copy
import time
from dataclasses import dataclass, field

from babelstream.contracts.events import (
    AudioSynthesisPayload,
    TextRecognizedPayload,
    TextTranslatedPayload,
)
from babelstream.gateway.rooms.bounded_set import RecentSet

# Event ids remembered to recognise a redelivered result, and answered segments remembered as answered.
_SEEN_REMEMBERED = 4096
_ANSWERED_REMEMBERED = 1024

# What the summary counts, by the type of the message sent.
_COUNTED = {"transcript": "transcripts", "translation": "translations", "audio": "audio", "warning": "warnings"}


@dataclass
class _SegmentProgress:
    cut_at: float  # perf_counter when the gateway published it (or the stream ended, for "single" mode)
    transcript: bool = False
    targets_waiting: set[str] = field(default_factory=set)
    # Languages answered (their audio, or a translation that will have none) before the transcript came: results
    # travel on different topics, whose partitions have different leaders, so while a broker fails over a
    # translation and its audio can overtake their transcript.
    settled: set[str] = field(default_factory=set)
    # A spoken language is answered by its translation and its audio, whichever comes first: they travel on
    # different topics, read by different consumers, so the audio can overtake its own translation.
    translated: set[str] = field(default_factory=set)
    spoken: set[str] = field(default_factory=set)

    @property
    def complete(self) -> bool:
        return self.transcript and not self.targets_waiting


# What an answered (and forgotten) segment's progress reads as.
_ANSWERED = _SegmentProgress(cut_at=0.0, transcript=True)


class ResultLedger:
    """What one session is still waiting for. In "live" mode the gateway announces each segment it cuts;
    in "single" mode the segmenter stage cuts them and the gateway learns of them from their transcripts,
    the last one flagged `is_last`."""

    def __init__(self) -> None:
        self._segments: dict[int, _SegmentProgress] = {}  # cut and not answered yet
        self._answered = RecentSet(_ANSWERED_REMEMBERED)
        self._answered_count = 0
        self._seen = RecentSet(_SEEN_REMEMBERED)
        # What the session asked for, when the events carry more (a room's speaker: its room's languages too).
        self._targets: frozenset[str] | None = None
        self._synthesize = True
        self._segments_from_stage = False
        self._all_cut = False
        self._stream_end: float | None = None
        self._changed = asyncio.Event()
        self.counts = {"transcripts": 0, "translations": 0, "audio": 0, "warnings": 0}

    def want(self, targets: tuple[str, ...], *, synthesize: bool) -> None:
        self._targets = frozenset(targets)
        self._synthesize = synthesize

    def wanted(self, payload: object) -> bool:
        """Whether the session asked for this result (a room's events carry every language its members read)."""
        if self._targets is None:
            return True
        if isinstance(payload, TextTranslatedPayload):
            return payload.target_language in self._targets
        if isinstance(payload, AudioSynthesisPayload):
            return self._synthesize and payload.language in self._targets
        return True

    def carry_over(self, previous: ResultLedger) -> None:
        """A resume on the same process: what the old socket's session knew of each segment's results, which the
        in-memory bus may no longer hold to be read back. Not which event ids it handed out (one its socket never
        delivered must be sent again: recording a result twice changes no progress), nor its counts (a resumed
        session's summary counts what its own socket was sent)."""
        for index, progress in previous._segments.items():
            self._segments.setdefault(index, copy.deepcopy(progress))
        for index in previous._answered:
            if self._answered.add(index):
                self._answered_count += 1
            self._segments.pop(index, None)

    def expect_segments_from_stage(self) -> None:
        self._segments_from_stage = True

    def segment_cut(self, index: int) -> None:
        if index not in self._segments and index not in self._answered:
            self._segments[index] = _SegmentProgress(time.perf_counter())

    def stream_ended(self) -> None:
        """No more audio: in live mode every segment has been announced."""
        self._stream_end = time.perf_counter()
        if not self._segments_from_stage:
            self._all_cut = True
        self._changed.set()

    def first_time(self, event_id: str) -> bool:
        return self._seen.add(event_id)

    def _progress(self, index: int) -> _SegmentProgress:
        progress = self._segments.get(index)
        if progress is None:
            if index in self._answered:
                return _ANSWERED  # a late result of a segment already answered changes nothing
            progress = self._segments[index] = _SegmentProgress(self._stream_end or time.perf_counter())
        return progress

    def _settle(self, index: int) -> None:
        progress = self._segments.get(index)
        if progress is not None and progress.complete:
            del self._segments[index]
            self._answered.add(index)
            self._answered_count += 1
        self._changed.set()

    def latency_ms(self, index: int) -> float:
        return round((time.perf_counter() - self._progress(index).cut_at) * 1000, 1)

    def record(self, payload: object) -> None:
        """A result arrived for one of this session's segments."""
        if isinstance(payload, TextRecognizedPayload):
            self.on_transcript(payload)
        elif isinstance(payload, TextTranslatedPayload):
            self.on_translation(payload)
        elif isinstance(payload, AudioSynthesisPayload):
            self.on_audio(payload)

    def sent(self, message_type: str) -> None:
        counter = _COUNTED.get(message_type)
        if counter is not None:
            self.counts[counter] += 1

    def on_transcript(self, payload: TextRecognizedPayload) -> None:
        progress = self._progress(payload.segment_index)
        if progress is _ANSWERED:
            return
        progress.transcript = True
        if payload.text:
            targets = payload.options.target_languages if self._targets is None else self._targets
            progress.targets_waiting = set(targets) - progress.settled
        if payload.is_last and self._segments_from_stage:
            self._all_cut = True
        self._settle(payload.segment_index)

    def on_translation(self, payload: TextTranslatedPayload) -> None:
        speaks = payload.options.speaks(payload.target_language) if self._targets is None else self._synthesize
        if payload.error or not speaks or not payload.text.strip():
            self._language_answered(payload.segment_index, payload.target_language)
        else:
            progress = self._progress(payload.segment_index)
            if progress is not _ANSWERED:
                progress.translated.add(payload.target_language)
                if payload.target_language in progress.spoken:
                    self._language_answered(payload.segment_index, payload.target_language)
        self._settle(payload.segment_index)

    def on_audio(self, payload: AudioSynthesisPayload) -> None:
        progress = self._progress(payload.segment_index)
        if progress is not _ANSWERED:
            progress.spoken.add(payload.language)
            if payload.language in progress.translated:
                self._language_answered(payload.segment_index, payload.language)
        self._settle(payload.segment_index)

    def _language_answered(self, index: int, language: str) -> None:
        progress = self._progress(index)
        if progress is _ANSWERED:
            return
        progress.settled.add(language)
        progress.targets_waiting.discard(language)

    def complete(self) -> bool:
        return self._all_cut and all(p.complete for p in self._segments.values())

    def missing(self) -> list[int]:
        return sorted(i for i, p in self._segments.items() if not p.complete)

    @property
    def segment_count(self) -> int:
        return len(self._segments) + self._answered_count

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
