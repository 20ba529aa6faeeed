"""Interim results, the gateway's half: an open utterance's audio out as it grows, its partial results back in.

Out: `WindowingEndpointer` wraps a session's endpointer when partials are on (with them off the session holds the
plain endpointer, so a frame costs nothing more). After each feed it looks at the open utterance, and once
PARTIAL_INTERVAL_MS of new audio has accumulated publishes a SpeechWindowEvent with only that new audio (a window
is as many bytes as the speech itself: 32 kB a second); when the utterance ends, a closed window with no audio
tells the ASR partial worker (stages/partial_asr.py) to stop work on it.

In: `PartialResults` turns PartialTranscriptEvents into `partial` messages, keeping the promise that stable text
only grows (a result out of order or from a restarted worker is dropped), and says whether a final transcript
disagrees with the stable text already sent (`revised`). It passes PartialTranslationEvents
(stages/partial_translate.py) on the same terms: only while their utterance is open, and only when their source
text extends the one translated last, so a partial translation never follows the final it is replaced by.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from babelstream.contracts.audio_format import PIPELINE_SAMPLE_RATE_HZ
from babelstream.contracts.events import (
    Event,
    PartialTranscriptPayload,
    PartialTranslationPayload,
    SessionOptions,
    SpeechWindowPayload,
    TextRecognizedPayload,
)
from babelstream.contracts.wav import wrap_pcm16
from babelstream.engines.asr.local_agreement import agrees_with
from babelstream.engines.vad.utterance import Utterance
from babelstream.gateway.session_context import Endpointer

log = logging.getLogger(__name__)


class WindowingEndpointer:
    """An endpointer that also publishes the open utterance's audio, every `interval_ms` of it."""

    __slots__ = (
        "_correlation_id", "_index_of_open", "_inner", "_interval_ms", "_offset_ms", "_options", "_publish", "_sent_to",
        "_service", "_start_ms", "_tasks", "_translate", "_window",
    )

    def __init__(
        self, inner: Endpointer, *, interval_ms: int, correlation_id: str, service: str,
        options: Callable[[], SessionOptions], translate: bool, index_of_open: Callable[[], int],
        publish: Callable[[Event], Awaitable[None]], offset_ms: int = 0,
    ):
        """options(): the options of the open utterance's next window (a room speaker's say its room's languages now,
        into which its partials are translated). index_of_open: the segment index the open utterance gets if it ends
        now (the session knows it). offset_ms: where this endpointer's audio begins on the session's timeline (a
        resumed session's audio_ms)."""
        self._offset_ms = offset_ms
        self._inner = inner
        self._interval_ms = interval_ms
        self._correlation_id = correlation_id
        self._service = service
        self._options = options
        self._translate = translate
        self._index_of_open = index_of_open
        self._publish = publish
        self._start_ms = -1  # the open utterance's start; -1: none open
        self._sent_to = 0  # where the audio published for it ends
        self._window = 0
        self._tasks: set[asyncio.Task] = set()

    def feed(self, pcm: bytes) -> list[Utterance]:
        completed = self._inner.feed(pcm)
        inner = self._inner
        if inner.in_speech:
            start_ms = inner.open_start_ms
            if start_ms != self._start_ms:  # a new utterance (or the rest of one cut at its length limit)
                self._close()
                self._start_ms = self._sent_to = start_ms
                self._window = 0
            if inner.stream_ms - self._sent_to >= self._interval_ms:
                self._send_window(inner.stream_ms)
        elif self._start_ms >= 0:
            self._close()
        return completed

    def flush(self) -> list[Utterance]:
        completed = self._inner.flush()
        self._close()
        return completed

    def commit_tentative(self) -> bool:
        committed = self._inner.commit_tentative()
        if committed:
            self._close()
        return committed

    def _send_window(self, end_ms: int) -> None:
        pcm = self._inner.open_audio_since(self._sent_to)
        offset = self._offset_ms
        self._emit(SpeechWindowPayload(
            segment_index=self._index_of_open(), start_ms=self._start_ms + offset, end_ms=end_ms + offset,
            options=self._options(), audio_bytes=wrap_pcm16(pcm, PIPELINE_SAMPLE_RATE_HZ),
            sample_rate_hz=PIPELINE_SAMPLE_RATE_HZ, window_index=self._window, audio_offset_ms=self._sent_to + offset,
            translate=self._translate,
        ))
        self._sent_to = end_ms
        self._window += 1

    def _close(self) -> None:
        if self._start_ms < 0:
            return
        if self._window:  # the worker never heard of an utterance shorter than one interval
            offset = self._offset_ms
            self._emit(SpeechWindowPayload(
                segment_index=self._index_of_open(), start_ms=self._start_ms + offset, end_ms=self._sent_to + offset,
                options=self._options(), window_index=self._window, audio_offset_ms=self._sent_to + offset, closed=True,
            ))
        self._start_ms = -1

    def _emit(self, payload: SpeechWindowPayload) -> None:
        event = Event(payload=payload, correlation_id=self._correlation_id, source_service=self._service)
        task = asyncio.ensure_future(self._published(event))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _published(self, event: Event) -> None:
        try:
            await self._publish(event)
        except Exception as failure:  # an interim result lost is not the session's end: the final still comes
            log.debug("session %s: window not published: %s", self._correlation_id, failure)

    def __getattr__(self, name: str):
        return getattr(self._inner, name)


class PartialResults:
    """One session's interim results on their way to the client."""

    __slots__ = ("_finished_to", "_stable", "_translated", "revised")

    def __init__(self) -> None:
        self._stable: dict[int, str] = {}  # utterance start_ms -> the stable text sent for it
        self._translated: dict[tuple[int, str], str] = {}  # (start_ms, language) -> the source text last translated
        self._finished_to = -1  # start_ms of the latest utterance whose transcript arrived
        self.revised = 0

    def accept(self, payload: PartialTranscriptPayload) -> bool:
        """Whether this result may go to the client: its utterance is still open, and its stable text extends the
        stable text already sent (results can arrive out of order, or from a worker that lost its state)."""
        if payload.start_ms <= self._finished_to:
            return False
        sent = self._stable.get(payload.start_ms, "")
        if not payload.stable_text.startswith(sent):
            return False
        if len(self._stable) > 8 and payload.start_ms not in self._stable:
            self._stable.clear()  # utterances whose transcript never came (withdrawn speculations): bounded
        self._stable[payload.start_ms] = payload.stable_text
        return True

    def accept_translation(self, payload: PartialTranslationPayload) -> bool:
        """Whether this partial translation may go to the client: its utterance is still open, and it translates
        more of the stable text than the last one sent in its language."""
        if payload.start_ms <= self._finished_to:
            return False
        key = (payload.start_ms, payload.target_language)
        sent = self._translated.get(key)
        if sent is not None and (len(payload.source_text) <= len(sent) or not payload.source_text.startswith(sent)):
            return False
        if len(self._translated) > 32 and key not in self._translated:
            # Utterances whose transcript never came (withdrawn speculations), or ended ones: bounded.
            self._translated = {k: v for k, v in self._translated.items() if k[0] > self._finished_to}
            if len(self._translated) > 32:
                self._translated.clear()
        self._translated[key] = payload.source_text
        return True

    def finished(self, payload: TextRecognizedPayload) -> bool:
        """The final transcript arrived: whether it disagrees with the stable text sent for its utterance."""
        self._finished_to = max(self._finished_to, payload.start_ms)
        stable = self._stable.pop(payload.start_ms, "")
        revised = bool(stable) and not agrees_with(payload.text, stable)
        self.revised += revised
        return revised
