"""SpeechSegmentEvent -> TextRecognizedEvent.

English goes to the English-only model, anything else (or an undeclared language) to the multilingual one,
which detects it. Silence, noise and Whisper's inventions become an empty transcript: the chain still
answers for the segment, and the client is shown nothing rather than invented text.

Concurrent utterances are decoded together: the runner hands the stage up to `concurrency` segments at once
(and publishes their results in the order the segments came, so a session's order holds), and a
RecognitionBatcher per model gathers them into batches of ASR_BATCH_SIZE, waiting at most ASR_BATCH_MAX_WAIT_MS
for one to fill, on ASR_WORKERS model replicas.
"""

from __future__ import annotations

import threading

from babelstream.contracts.events import Event, SpeechSegmentPayload, TextRecognizedPayload, utc_now
from babelstream.contracts.topics import SPEECH_SEGMENT
from babelstream.contracts.wav import unwrap_pcm16
from babelstream.engines.asr.base import SpeechRecognizer
from babelstream.engines.asr.whisper import WhisperRecognizer
from babelstream.stages.recognition_batcher import RecognitionBatcher
from babelstream.stages.settings import StageSettings


READ_AHEAD_BATCHES = 1


class AsrStage:
    name = "asr"
    input_topic = SPEECH_SEGMENT

    def __init__(self, settings: StageSettings, service: str):
        self.settings = settings
        self.service = service
        self._models: dict[str, SpeechRecognizer] = {}
        self._partial_models: dict[str, SpeechRecognizer] = {}
        self._batchers: dict[str, RecognitionBatcher] = {}
        self._loading = threading.Lock()
        self.busy = 0  # finals being decoded now: the partial worker (partial_asr.py) waits while there are any
        # Segments the runner may have in hand at once: enough to fill every replica's batch, and one batch more, so
        # a replica that finishes first takes the next batch at once rather than waiting for the slowest one's
        # (the runner finishes segments in order, so its read-ahead frees only when the oldest batch is done).
        self.concurrency = max(1, settings.asr_batch_size) * (max(1, settings.asr_workers) + READ_AHEAD_BATCHES)

    def _spec_for(self, language: str | None) -> str:
        return self.settings.asr_model_english if language == "en" else self.settings.asr_model_multilingual

    def recognizer(self, language: str | None) -> SpeechRecognizer:
        spec = self._spec_for(language)
        with self._loading:
            if spec not in self._models:
                self._models[spec] = self.new_recognizer(
                    language, self.settings.asr_cpu_threads, workers=self.settings.asr_workers
                )
            return self._models[spec]

    def batcher(self, language: str | None) -> RecognitionBatcher:
        recognizer = self.recognizer(language)
        spec = self._spec_for(language)
        if spec not in self._batchers:
            self._batchers[spec] = RecognitionBatcher(
                recognizer,
                batch_size=self.settings.asr_batch_size,
                max_wait_ms=self.settings.asr_batch_max_wait_ms,
                workers=self.settings.asr_workers,
            )
        return self._batchers[spec]

    def partial_recognizer(self, language: str | None) -> SpeechRecognizer:
        """The interim results' model (stages/partial_asr.py): another instance, ASR_PARTIAL_THREADS threads."""
        spec = self._spec_for(language)
        with self._loading:
            if spec not in self._partial_models:
                # The encoder sees twice the audio, at least 4 s rather than the finals' 10: a partial decode's cost is
                # the encoder's window. Repeats that a short window makes tiny.en say on short audio are cut by
                # partial_asr.without_repeat (docs/benchmarks/interim-results.md).
                self._partial_models[spec] = self.new_recognizer(
                    language, self.settings.asr_partial_threads, min_window_seconds=4.0
                )
            return self._partial_models[spec]

    def partial_batcher(self, language: str | None) -> RecognitionBatcher:
        """The interim results' model behind a batcher: concurrent speakers' windows decode together, with no wait
        (the worker hands over every utterance waiting at once)."""
        recognizer = self.partial_recognizer(language)
        key = f"partial:{self._spec_for(language)}"
        if key not in self._batchers:
            self._batchers[key] = RecognitionBatcher(recognizer, batch_size=self.settings.asr_batch_size, max_wait_ms=0)
        return self._batchers[key]

    def new_recognizer(
        self, language: str | None, cpu_threads: int, min_window_seconds: float | None = None, workers: int = 1
    ) -> WhisperRecognizer:
        """A model instance of its own (the partial worker's, so its decodes never wait on a final's lock)."""
        return WhisperRecognizer(
            self._spec_for(language),
            compute_type=self.settings.asr_compute_type,
            cpu_threads=cpu_threads or None,
            workers=workers,
            default_language=self.settings.asr_fallback_language,
            language_threshold=self.settings.asr_language_threshold,
            min_window_seconds=min_window_seconds or self.settings.asr_min_window_seconds,
            cache_dir=self.settings.babelstream_cache,
        )

    def languages(self) -> frozenset[str]:
        """Every language some configured model recognises (loads the multilingual model)."""
        return self.recognizer(None).languages() | self.recognizer("en").languages()

    def warm_up(self) -> None:
        if self.settings.warm_up:
            self.recognizer("en")
            if self.settings.asr_partials:
                self.partial_recognizer("en")

    async def handle(self, event: Event) -> list[Event]:
        started = utc_now()
        payload = event.payload
        if not isinstance(payload, SpeechSegmentPayload):
            raise TypeError(f"asr takes SpeechSegmentEvent, got {event.event_type}")
        audio = unwrap_pcm16(payload.audio_bytes)
        language = payload.options.source_language
        recognition = None
        if audio.samples:
            batcher = self.batcher(language)
            self.busy += 1
            try:
                recognition = await batcher.transcribe(audio.samples, audio.sample_rate_hz, language)
            finally:
                self.busy -= 1
        model = self._spec_for(language)
        result = TextRecognizedPayload(
            text=recognition.text if recognition else "",
            language=recognition.language if recognition else (language or ""),
            confidence=recognition.confidence if recognition else 0.0,
            segment_index=payload.segment_index,
            start_ms=payload.start_ms,
            end_ms=payload.end_ms,
            options=payload.options,
            is_last=payload.is_last,
            model=model,
        )
        return [event.derive(result, stage=self.name, service=self.service, started_at=started)]
