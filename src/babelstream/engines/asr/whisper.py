"""Whisper (faster-whisper on CTranslate2, int8 on CPU) behind the SpeechRecognizer protocol.

Segmentation happens upstream (the endpointer), so each call gets one utterance and runs Whisper
once over it, without Whisper's own VAD, timestamps or conditioning on earlier text. Without timestamps, though,
an utterance of several sentences sometimes comes back as its first sentence alone, so a transcript too short for
its audio is decoded again in timestamp mode (`_looks_cut_short`; docs/benchmarks/engines.md, "Whole utterances").
Decoding goes to CTranslate2 directly (not faster-whisper's transcribe) so the encoder sees a window sized to the
utterance instead of 30 s, and runs once for both language detection and decoding. Whisper invents
text for silence and noise; the guard below returns None rather than pass that on.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import ctranslate2
import numpy as np
from faster_whisper.tokenizer import Tokenizer
from faster_whisper.transcribe import get_suppressed_tokens

from babelstream.engines.asr.base import LanguageNotSupported, Recognition
from babelstream.engines.asr.models import DEFAULT_CACHE_DIR, open_whisper_model
from babelstream.engines.audio import pcm16_to_float32, resample, rms_dbfs
from babelstream.engines.blas_threads import single_threaded_blas

WHISPER_RATE_HZ = 16_000
MIN_AUDIO_MS = 100  # shorter than any word: Whisper only guesses
DIGITAL_SILENCE_DBFS = -60.0  # nothing to hear: skip the model entirely
QUIET_DBFS = -50.0  # quiet enough that a stock phrase is more likely invented than spoken
# Below this mean token log-probability (a mean token probability under 0.22) a decode is invented, whatever
# no_speech_prob says: on music, base writes "I'm not sure if I can get it right." at -1.8 to -2.4 with
# no_speech_prob only 0.47-0.6, while espeak-ng and spoken sentences decode at -0.2 to -0.9
# (tests/integration/test_asr_non_speech.py, docs/benchmarks/translation-quality.md).
INVENTED_LOGPROB = -1.5
# Whisper's favourite inventions on silence, learned from subtitled videos.
STOCK_HALLUCINATIONS = frozenset(
    {
        "you",
        "thank you",
        "thank you very much",
        "thanks",
        "thanks for watching",
        "thank you for watching",
        "thank you so much for watching",
        "please subscribe",
        "subscribe",
        "bye",
        "bye bye",
        "so",
        "okay",
        "oh",
        "hmm",
        "subtitles by the amaraorg community",
        "gracias",
        "gracias por ver el video",
        "sous titrage st 501",
        "untertitel im auftrag des zdf 2017",
        "продолжение следует",
    }
)
_ANNOTATION = re.compile(r"\[[^\]]*\]|\([^)]*\)|\*[^*]*\*|[♪♫]+")  # [Music], (buzzing), *noise*, ♪
_TOKENS_PER_SECOND = 10  # generous for speech in any language; a loop hits this cap fast
_MAX_NEW_TOKENS = 400  # Whisper's decoder holds 448 including the prompt


_FRAMES_PER_SECOND = 100  # Whisper's mel hop: 10 ms
_WINDOW_FRAMES = 3000  # what Whisper was trained on: 30 s


def _window_frames(frames: int, minimum: int, step: int) -> int:
    """The encoder's input width for an utterance of `frames` mel frames.

    Whisper pads every input to 30 s, so a 3 s utterance pays for 30 s of encoder work — most of our
    latency. CTranslate2 accepts shorter inputs; with no padding at all Whisper loses track of the end and
    loops, but with at least as much padding as speech (and 10 s at least) it transcribes the same text as
    with 30 s at a fraction of the cost (measured in docs/benchmarks/engines.md).

    The width is rounded up to a multiple of `step` frames: CTranslate2's CPU backend keeps what it builds for
    each input shape it meets, so a width per utterance length grew the process by hundreds of MB over a long
    talk; a handful of widths keeps it flat (docs/benchmarks/rooms.md, "A long talk")."""
    wanted = max(minimum, 2 * frames)
    if step > 1:
        wanted = -(-wanted // step) * step
    return min(_WINDOW_FRAMES, wanted)


@dataclass(frozen=True)
class _Decoded:
    text: str
    avg_logprob: float
    no_speech_prob: float
    segments: tuple[tuple[int, int, str], ...] = ()


@dataclass(frozen=True)
class TranscriptionRequest:
    """One utterance for `WhisperRecognizer.transcribe_many`: what `transcribe` takes."""

    pcm: bytes
    sample_rate_hz: int
    language: str | None
    timestamps: bool = False


@dataclass
class _Prepared:
    """An utterance ready for the model: its features, the encoder window they go in, and its language if given."""

    position: int  # in the caller's list
    features: np.ndarray
    window: int
    language: str | None
    timestamps: bool
    duration_ms: int
    loudness: float


class WhisperRecognizer:
    """Loads the model once; transcribe() and transcribe_many() are thread-safe (at most `workers` calls run on the
    model at once, each on a CTranslate2 replica of its own)."""

    def __init__(
        self,
        model_spec: str = "tiny.en",
        *,
        compute_type: str = "int8",
        cpu_threads: int | None = None,
        workers: int = 1,
        beam_size: int = 1,
        default_language: str = "en",
        language_threshold: float = 0.5,
        candidate_languages: frozenset[str] | None = None,
        temperatures: Sequence[float] = (0.0,),
        no_speech_threshold: float = 0.6,
        logprob_threshold: float = -1.0,
        min_window_seconds: float = 10.0,
        window_step_seconds: float = 1.0,
        cache_dir: Path = DEFAULT_CACHE_DIR,
    ):
        """default_language: used when detection is unsure (probability below language_threshold).
        candidate_languages: restrict detection to these (e.g. what translation supports).
        workers: CTranslate2 replicas (inter_threads), each on cpu_threads threads: calls that may run at once.
        temperatures: (0.0,) disables the slow sampling fallback; loops are caught by the guard instead.
        min_window_seconds: the encoder sees the utterance padded to max(this, twice its length), capped at
        Whisper's 30 s, instead of always 30 s (see `_window_frames`); 30 restores faster-whisper's padding.
        window_step_seconds: that window rounded up to a multiple of this (0: to the frame), so the model meets
        few input shapes."""
        threads = cpu_threads if cpu_threads is not None else min(4, os.cpu_count() or 1)
        single_threaded_blas()  # the feature extractor's matrix products: engines/blas_threads.py
        started = time.perf_counter()
        self._model = open_whisper_model(
            model_spec, compute_type=compute_type, cpu_threads=threads, workers=workers, cache_dir=cache_dir
        )
        self.load_seconds = time.perf_counter() - started
        self.name = f"whisper:{model_spec}"
        self.multilingual: bool = self._model.model.is_multilingual
        self._languages = frozenset(self._model.supported_languages)
        self._default_language = self._checked_language(default_language)
        self._candidates = frozenset(map(self._checked_language, candidate_languages or self._languages))
        self._language_threshold = language_threshold
        self._beam_size = beam_size
        self._temperatures = list(temperatures)
        self._no_speech_threshold = no_speech_threshold
        self._logprob_threshold = logprob_threshold
        self._min_window_frames = int(min(30.0, max(1.0, min_window_seconds)) * _FRAMES_PER_SECOND)
        self._tokenizers: dict[str, Tokenizer] = {}
        self._suppressed: list[int] | None = None
        self._tokenizers_lock = threading.Lock()
        self._replicas = threading.BoundedSemaphore(max(1, workers))
        self._window_step_frames = max(1, int(window_step_seconds * _FRAMES_PER_SECOND))

    def languages(self) -> frozenset[str]:
        return self._languages

    def transcribe(
        self, pcm: bytes, sample_rate_hz: int, language: str | None, *, timestamps: bool = False
    ) -> Recognition | None:
        """timestamps: also return Whisper's segments with their times (the interim results' worker trims its
        audio at them)."""
        result = self.transcribe_many([TranscriptionRequest(pcm, sample_rate_hz, language, timestamps)])[0]
        if isinstance(result, Exception):
            raise result
        return result

    def transcribe_many(self, requests: Sequence[TranscriptionRequest]) -> list[Recognition | None | Exception]:
        """Several utterances in as few model calls as can give each exactly what `transcribe` gives it alone:
        those whose encoder window has the same width share one encoder call and one greedy decode (a batch). A
        request that fails gets its exception in its place; the others are unaffected."""
        results: list[Recognition | None | Exception] = [None] * len(requests)
        groups: dict[tuple[int, bool], list[_Prepared]] = {}
        for position, request in enumerate(requests):
            try:
                prepared = self._prepare(position, request)
            except Exception as error:  # noqa: BLE001 - the request's own failure, returned in its place
                results[position] = error
                continue
            if prepared is not None:
                groups.setdefault((prepared.window, prepared.timestamps), []).append(prepared)
        for group in groups.values():
            try:
                recognized = self._recognize(group)
            except Exception:  # noqa: BLE001 - one of them broke the batch: each alone, so only its own fails
                recognized = []
                for item in group:
                    try:
                        recognized += self._recognize([item])
                    except Exception as error:  # noqa: BLE001
                        recognized.append(error)
            for item, result in zip(group, recognized):
                results[item.position] = result
        return results

    def _prepare(self, position: int, request: TranscriptionRequest) -> _Prepared | None:
        """Features and window; None when there is nothing to decode (too short, digital silence)."""
        language = self._checked_language(request.language) if request.language else None
        samples = resample(pcm16_to_float32(request.pcm), request.sample_rate_hz, WHISPER_RATE_HZ)
        duration_ms = samples.size * 1000 // WHISPER_RATE_HZ
        loudness = rms_dbfs(samples)
        if duration_ms < MIN_AUDIO_MS or loudness < DIGITAL_SILENCE_DBFS:
            return None
        features = self._model.feature_extractor(samples)
        window = _window_frames(features.shape[-1], self._min_window_frames, self._window_step_frames)
        return _Prepared(position, features, window, language, request.timestamps, duration_ms, loudness)

    def _recognize(self, group: list[_Prepared]) -> list[Recognition | None]:
        """One batch: every item has the same window and timestamps setting."""
        with self._replicas:
            encoded = self._encode([item.features for item in group], group[0].window)
            picked = self._pick_languages(encoded, [item.language for item in group])
            decoded = self._decode(encoded, [language for language, _ in picked], group[0].window, group[0].timestamps)
        recognitions = [
            self._recognition(item, language, probability, result)
            for item, (language, probability), result in zip(group, picked, decoded)
        ]
        for position, (item, (language, _), recognition) in enumerate(zip(group, picked, recognitions)):
            if not item.timestamps and _looks_cut_short(recognition, item.duration_ms):
                alone = encoded if len(group) == 1 else None  # a batch's encoder output is not split here
                recognitions[position] = self._whole(item, language, recognition, alone)
        return recognitions

    def _whole(
        self, item: _Prepared, language: str, first: Recognition, encoded: ctranslate2.StorageView | None
    ) -> Recognition:
        """The utterance decoded again in timestamp mode, where Whisper goes on past a sentence's end; its text if
        that is clearly longer. Which of speech or not was the first decode's to say (the guard reads a timestamped
        decode as surer than it is: timestamp tokens are likely ones)."""
        with self._replicas:
            if encoded is None:
                encoded = self._encode([item.features], item.window)
            decoded = self._decode(encoded, [language], item.window, True)[0]
        text = _clean(decoded.text)
        if len(text) < _LONGER_BY * len(first.text):
            return first
        return dataclasses.replace(first, text=text)

    def _recognition(
        self, item: _Prepared, language: str, language_probability: float, decoded: _Decoded
    ) -> Recognition | None:
        unsure_language = language_probability < self._language_threshold
        if self._is_no_speech(decoded.no_speech_prob, decoded.avg_logprob, unsure_language):
            return None
        text = _clean(decoded.text)
        if not text:
            return None
        no_speech = decoded.no_speech_prob
        if _is_stock_hallucination(text) and (item.loudness < QUIET_DBFS or no_speech > 0.3):
            return None
        confidence = math.exp(decoded.avg_logprob)
        return Recognition(
            text=text,
            language=language,
            confidence=min(1.0, max(0.0, confidence)),
            language_probability=language_probability,
            no_speech_probability=no_speech,
            duration_ms=item.duration_ms,
            segments=decoded.segments,
        )

    def _checked_language(self, language: str) -> str:
        code = re.split(r"[-_]", language.strip().lower(), maxsplit=1)[0]  # "en-US" -> "en"
        if code not in self._languages:
            raise LanguageNotSupported(language, self.name, self._languages)
        return code

    def _encode(self, features: list[np.ndarray], window: int) -> ctranslate2.StorageView:
        """Runs the encoder once over the batch; language detection and decoding both read its output."""
        padded = np.zeros((len(features), features[0].shape[0], window), dtype=np.float32)
        for row, item in enumerate(features):
            frames = min(item.shape[-1], window)
            padded[row, :, :frames] = item[:, :frames]
        return self._model.model.encode(ctranslate2.StorageView.from_array(padded), to_cpu=False)

    def _pick_languages(
        self, encoded: ctranslate2.StorageView, requested: list[str | None]
    ) -> list[tuple[str, float]]:
        if all(language is not None for language in requested) or not self.multilingual:
            return [(language or "en", 1.0) for language in requested]
        detected = self._model.model.detect_language(encoded)
        return [
            (language, 1.0) if language is not None else self._likeliest(ranked)
            for language, ranked in zip(requested, detected)
        ]

    def _likeliest(self, ranked: list[tuple[str, float]]) -> tuple[str, float]:
        probabilities = {token[2:-2]: probability for token, probability in ranked}  # "<|es|>" -> "es"
        best = max(self._candidates, key=lambda code: probabilities.get(code, 0.0))
        if probabilities.get(best, 0.0) >= self._language_threshold:
            return best, probabilities[best]
        return self._default_language, probabilities.get(self._default_language, 0.0)

    def _tokenizer(self, language: str) -> Tokenizer:
        with self._tokenizers_lock:
            if language not in self._tokenizers:
                tokenizer = Tokenizer(self._model.hf_tokenizer, self.multilingual, task="transcribe", language=language)
                self._tokenizers[language] = tokenizer
                if self._suppressed is None:  # symbols and special tokens: the same for every language
                    self._suppressed = get_suppressed_tokens(tokenizer, [-1])
            return self._tokenizers[language]

    def _decode(
        self, encoded: ctranslate2.StorageView, languages: list[str], window: int, timestamps: bool
    ) -> list[_Decoded]:
        tokenizers = [self._tokenizer(language) for language in languages]
        prompts = [
            [*tokenizer.sot_sequence] if timestamps else [*tokenizer.sot_sequence, tokenizer.no_timestamps]
            for tokenizer in tokenizers
        ]
        # The cap follows the window (which holds at most half speech, or 30 s), not each utterance's length, so
        # that utterances decoded together get exactly the cap they would get alone.
        speech_seconds = min(30, window // _FRAMES_PER_SECOND // 2 + 1)
        max_new_tokens = min(_MAX_NEW_TOKENS, 20 + _TOKENS_PER_SECOND * speech_seconds)
        results = self._model.model.generate(
            encoded,
            prompts,
            beam_size=self._beam_size,
            sampling_temperature=self._temperatures[0] if self._temperatures else 0.0,
            max_length=len(prompts[0]) + max_new_tokens,
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=self._suppressed,
        )
        decoded = []
        for tokenizer, result in zip(tokenizers, results):
            ids = result.sequences_ids[0]
            tokens = [token for token in ids if token < tokenizer.eot]
            # As faster-whisper scores a segment: the length-normalised cumulative log-probability.
            avg_logprob = result.scores[0] * len(ids) / (len(ids) + 1)
            segments = _timed_segments(ids, tokenizer) if timestamps else ()
            decoded.append(_Decoded(tokenizer.decode(tokens), avg_logprob, result.no_speech_prob, segments))
        return decoded

    def _is_no_speech(self, no_speech_prob: float, avg_logprob: float, unsure_language: bool) -> bool:
        """Whisper's own rule (no speech likely and the decode unlikely), plus two it lacks: a decode too
        unlikely to be anything but invented, and an unlikely decode of audio in which language detection
        found no language (music and noise detect as nothing in particular)."""
        if avg_logprob < INVENTED_LOGPROB:
            return True
        if avg_logprob < self._logprob_threshold and unsure_language:
            return True
        return no_speech_prob > self._no_speech_threshold and avg_logprob < self._logprob_threshold


# A transcript of an utterance this long or longer with fewer characters per second of audio than this is suspect
# (the ones Whisper cut short ran at 3-10; about one whole sentence in 16 is under it too, and pays a second decoder
# pass for nothing), and the decode in timestamp mode replaces it when it is this many times longer.
_CUT_SHORT_MIN_MS = 4000
_CUT_SHORT_CHARS_PER_SECOND = 12.0
_LONGER_BY = 1.3


def _looks_cut_short(recognition: Recognition | None, duration_ms: int) -> bool:
    return (
        recognition is not None
        and duration_ms >= _CUT_SHORT_MIN_MS
        and len(recognition.text) < _CUT_SHORT_CHARS_PER_SECOND * duration_ms / 1000
    )


def _timed_segments(ids: list[int], tokenizer: Tokenizer) -> tuple[tuple[int, int, str], ...]:
    """Text between timestamp tokens (<|t0|> text <|t1|>, 20 ms a step), as (start_ms, end_ms, text)."""
    segments = []
    start_ms: int | None = None
    text: list[int] = []
    for token in ids:
        if token >= tokenizer.timestamp_begin:
            at_ms = (token - tokenizer.timestamp_begin) * 20
            if start_ms is not None and text:
                segments.append((start_ms, at_ms, tokenizer.decode(text).strip()))
                text = []
            start_ms = at_ms
        elif token < tokenizer.eot:
            text.append(token)
    return tuple(segments)


def _clean(text: str) -> str:
    """Strip non-speech annotations and collapse decoding loops; '' when nothing spoken remains."""
    text = " ".join(_ANNOTATION.sub(" ", text).split())
    if not any(character.isalnum() for character in text):
        return ""
    return _collapse_loop(text)


def _collapse_loop(text: str) -> str:
    """A loop ('the the the the ...', 'I'm going. I'm going. ...') that fills most of the text means
    the whole output is invented; a short one after real words is cut back to one occurrence."""
    words = text.split()
    keys = [_normalize(word) for word in words]
    for size in range(1, 7):
        needed = 6 if size == 1 else 4
        for start in range(len(keys) - size * needed + 1):
            gram = keys[start : start + size]
            repeats = 1
            while keys[start + repeats * size : start + (repeats + 1) * size] == gram:
                repeats += 1
            if repeats >= needed:
                if repeats * size * 2 >= len(words):
                    return ""
                return " ".join(words[: start + size] + words[start + repeats * size :])
    return text


def _normalize(text: str) -> str:
    return re.sub(r"[^\w\s]", "", text.lower()).strip()


def _is_stock_hallucination(text: str) -> bool:
    return " ".join(_normalize(text).split()) in STOCK_HALLUCINATIONS
