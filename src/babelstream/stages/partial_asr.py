"""SpeechWindowEvent -> PartialTranscriptEvent: interim results for utterances still being spoken.

Runs in the ASR stage's process, beside its consume loop but apart from it: its own topic and consumer group
(`babelstream.asr-partial`), its own model instance, and it decodes only while no final is being decoded, so
interim work never delays a final transcript.

Work is bounded under load. Windows are read as fast as they come and only appended to their utterance's audio;
a window still waiting when a newer one of the same utterance arrives is replaced by it (its audio is already
in the utterance), and a closed window (the utterance was cut) ends the utterance's work and any window of it
still waiting. So a busy worker decodes less often per utterance, never more than once per open utterance at a
time, and never an utterance already final. Each decode covers the utterance from its start, or from the
end of its last Whisper segment whose words were all stable (greedy, with timestamps:
`WhisperRecognizer.transcribe`): those words are kept and their audio is decoded no more, so a decode stays a few
seconds long however long the utterance runs. LocalAgreement-2 (engines/asr/local_agreement.py) says which words
are stable.

Delivery is at most once: an interim result is worth nothing late, so windows are committed as they are read
and a window lost on a restart only means the utterance gets no more partials (its final comes as always).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable

from babelstream.bus.base import Bus
from babelstream.bus.event_publisher import EventPublisher
from babelstream.contracts.codec import EventCodec
from babelstream.contracts.errors import ContractError
from babelstream.contracts.events import Event, PartialTranscriptPayload, SpeechWindowPayload, utc_now
from babelstream.contracts.topics import SPEECH_WINDOW
from babelstream.contracts.wav import unwrap_pcm16
from babelstream.engines.asr.local_agreement import LocalAgreement, word_key, words_of
from babelstream.stages.interim_worker import InterimWorker
from babelstream.stages.recognition_batcher import RecognitionBatcher

log = logging.getLogger(__name__)

SAMPLE_RATE_HZ = 16_000
MAX_OPEN_UTTERANCES = 1024  # past it the oldest is forgotten (its client gets no more partials for it)
MAX_UTTERANCE_BYTES = 30 * SAMPLE_RATE_HZ * 2  # Whisper's window; the gateway cuts at MAX_SEGMENT_MS (15 s) anyway
# The audio of stable segments is dropped only once the buffer is this long: each trim costs Whisper the context
# before it, and its segment times are coarse (a trim can cut into the next word), so short buffers are always
# decoded whole; past it a decode's cost stops growing with the utterance. 3 s rather than 6 s: a decode's cost is
# its encoder window (twice the buffer) and its tokens, and 3 s cut the partial decoder's CPU by a fifth with no
# more stable words wrong (docs/benchmarks/interim-results.md, "Server CPU").
TRIM_AFTER_MS = 3000
MIN_TRIM_MS = 1000
_BYTES_PER_MS = SAMPLE_RATE_HZ * 2 // 1000
# No decode of less audio than this (pre-roll included): on half a second Whisper mostly guesses, and a guess
# that two decodes happen to share would become stable.
MIN_DECODE_MS = 1000


class _OpenUtterance:
    __slots__ = ("agreement", "end_ms", "kept", "last_sent", "pcm")

    def __init__(self, start_ms: int):
        self.pcm = bytearray()  # the audio still decoded: from the utterance's start, or from its last trim
        self.end_ms = start_ms  # where the audio received so far ends
        self.agreement = LocalAgreement()  # over the words of `pcm`
        self.kept = ""  # stable words whose audio was trimmed
        self.last_sent: tuple[str, str] | None = None

    @property
    def stable(self) -> str:
        return " ".join(part for part in (self.kept, self.agreement.stable_text) if part)

    def trim(self, segments: tuple[tuple[int, int, str], ...]) -> None:
        """Drop the audio of the leading Whisper segments whose words are all stable (never the last segment: the
        words at the end of the audio may still change)."""
        if len(self.pcm) < TRIM_AFTER_MS * _BYTES_PER_MS:
            return
        words = 0
        cut_ms = 0
        for _, end_ms, text in segments[:-1]:
            count = len(words_of(text))
            if words + count > self.agreement.stable_count:
                break
            words += count
            cut_ms = end_ms
        if cut_ms < MIN_TRIM_MS or not words:
            return
        self.kept = " ".join(part for part in (self.kept, self.agreement.drop_front(words)) if part)
        del self.pcm[: cut_ms * _BYTES_PER_MS]


def without_repeat(text: str) -> str:
    """The text up to where a run of 3+ words starts again right after itself: on a few seconds of audio, a padded
    window sometimes makes Whisper say the same phrase twice (a final's longer window does not)."""
    words = text.split()
    keys = [word_key(word) for word in words]
    for size in range(len(keys) // 2, 2, -1):
        for start in range(len(keys) - 2 * size + 1):
            if keys[start : start + size] == keys[start + size : start + 2 * size]:
                return " ".join(words[: start + size])
    return text


class PartialAsrWorker(InterimWorker):
    name = "asr-partial"
    input_topic = SPEECH_WINDOW

    def __init__(
        self, bus: Bus, codec: EventCodec, service: str, recognizer: Callable[[str | None], RecognitionBatcher],
        finals_busy: Callable[[], bool] = lambda: False, batch_size: int = 1,
    ):
        """recognizer: the batcher of the model for a language (the worker's own instances); finals_busy: whether a
        final is being decoded (the ASR stage's), in which case the worker waits; batch_size: open utterances
        (of concurrent speakers) decoded together at most."""
        super().__init__(bus, codec)
        self._service = service
        self._recognizer = recognizer
        self._finals_busy = finals_busy
        self._batch_size = max(1, batch_size)
        self._publisher = EventPublisher(bus, codec)
        self._open: dict[tuple[str, int], _OpenUtterance] = {}
        self._waiting: dict[tuple[str, int], Event] = {}  # the newest undecoded window of each utterance
        self._wake = asyncio.Event()
        self.decoded = 0  # windows decoded
        self.skipped = 0  # windows replaced by a newer one, or whose utterance closed, before their turn

    def take(self, event: Event) -> None:
        """One window in: its audio appended to its utterance, and the utterance queued for a decode."""
        window = event.payload
        if not isinstance(window, SpeechWindowPayload):
            raise TypeError(f"asr-partial takes SpeechWindowEvent, got {event.event_type}")
        key = (event.correlation_id, window.start_ms)
        if window.closed:
            self._open.pop(key, None)
            if self._waiting.pop(key, None) is not None:
                self.skipped += 1
            return
        utterance = self._open.get(key)
        if utterance is None:
            if window.audio_offset_ms != window.start_ms:
                return  # its beginning was missed (a restart): no agreement can be built on it
            if len(self._open) >= MAX_OPEN_UTTERANCES:
                oldest = next(iter(self._open))
                del self._open[oldest]
                self._waiting.pop(oldest, None)
            utterance = self._open[key] = _OpenUtterance(window.start_ms)
        if window.audio_offset_ms != utterance.end_ms:
            del self._open[key]  # a window is missing: decodes would no longer cover the utterance from its start
            self._waiting.pop(key, None)
            return
        audio = unwrap_pcm16(window.audio_bytes) if window.audio_bytes else None
        if audio is not None and audio.sample_rate_hz != SAMPLE_RATE_HZ:
            raise ContractError(f"windows are {SAMPLE_RATE_HZ} Hz, got {audio.sample_rate_hz}")
        if audio is not None and len(utterance.pcm) + len(audio.samples) <= MAX_UTTERANCE_BYTES:
            utterance.pcm += audio.samples
        utterance.end_ms = window.end_ms
        if utterance.end_ms - window.start_ms < MIN_DECODE_MS:
            return
        if self._waiting.pop(key, None) is not None:
            self.skipped += 1
        self._waiting[key] = event
        self._wake.set()

    async def _work(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._waiting:
                while self._finals_busy():
                    await asyncio.sleep(0.005)
                if not self._waiting:
                    break
                # The utterances waiting now, oldest first, go together: their decodes share the model's batches.
                keys = list(itertools.islice(self._waiting, self._batch_size))
                await asyncio.gather(*(self._decode_logged(key, self._waiting.pop(key)) for key in keys))

    async def _decode_logged(self, key: tuple[str, int], event: Event) -> None:
        try:
            await self._decode(key, event)
        except Exception:  # one bad window must not stop interim results for everyone
            log.exception("asr-partial: decode failed for %s", event.correlation_id)

    async def _decode(self, key: tuple[str, int], event: Event) -> None:
        utterance = self._open.get(key)
        if utterance is None:
            return
        started = utc_now()
        window: SpeechWindowPayload = event.payload
        language = window.options.source_language
        pcm = bytes(utterance.pcm)
        recognition = await self._recognizer(language).transcribe(pcm, SAMPLE_RATE_HZ, language, timestamps=True)
        self.decoded += 1
        if self._open.get(key) is not utterance:
            return  # closed while it was decoded: its final is on its way
        agreement = utterance.agreement.update(without_repeat(recognition.text) if recognition else "")
        stable = utterance.stable
        if recognition is not None:
            utterance.trim(recognition.segments)  # times from the start of `pcm`, which is still the buffer's
        shown = (stable, agreement.unstable)
        if not any(shown) or shown == utterance.last_sent:
            return
        utterance.last_sent = shown
        partial = PartialTranscriptPayload(
            stable_text=stable,
            unstable_text=agreement.unstable if stable else agreement.unstable.lstrip(),
            segment_index=window.segment_index,
            start_ms=window.start_ms,
            end_ms=window.end_ms,
            options=window.options,
            language=recognition.language if recognition else (language or ""),
            window_index=window.window_index,
            translate=window.translate,
        )
        try:
            await self._publisher.publish(
                event.derive(partial, stage="asr-partial", service=self._service, started_at=started)
            )
        except Exception as failure:  # best effort: the next window brings a newer result
            log.debug("asr-partial: result not published: %s", failure)
