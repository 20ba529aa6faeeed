"""Whisper (faster-whisper on CTranslate2, int8 on CPU) behind the SpeechRecognizer protocol.

Segmentation happens upstream (the endpointer), so each call gets one utterance and runs Whisper
once over it, without Whisper's own VAD, timestamps or conditioning on earlier text. Whisper
invents text for silence and noise; the guard below returns None rather than pass that on.
"""

from __future__ import annotations

import math
import os
import re
import threading
import time
from collections.abc import Sequence

import numpy as np

from babelstream.engines.asr.base import LanguageNotSupported, Recognition
from babelstream.engines.asr.models import open_whisper_model
from babelstream.engines.audio import pcm16_to_float32, resample, rms_dbfs

WHISPER_RATE_HZ = 16_000
MIN_AUDIO_MS = 100  # shorter than any word: Whisper only guesses
DIGITAL_SILENCE_DBFS = -60.0  # nothing to hear: skip the model entirely
QUIET_DBFS = -50.0  # quiet enough that a stock phrase is more likely invented than spoken
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


class WhisperRecognizer:
    """Loads the model once; transcribe() is thread-safe (calls are serialised on the model)."""

    def __init__(
        self,
        model_spec: str = "tiny.en",
        *,
        compute_type: str = "int8",
        cpu_threads: int | None = None,
        beam_size: int = 1,
        default_language: str = "en",
        language_threshold: float = 0.5,
        candidate_languages: frozenset[str] | None = None,
        temperatures: Sequence[float] = (0.0,),
        no_speech_threshold: float = 0.6,
        logprob_threshold: float = -1.0,
    ):
        """default_language: used when detection is unsure (probability below language_threshold).
        candidate_languages: restrict detection to these (e.g. what translation supports).
        temperatures: (0.0,) disables the slow sampling fallback; loops are caught by the guard instead."""
        threads = cpu_threads if cpu_threads is not None else min(4, os.cpu_count() or 1)
        started = time.perf_counter()
        self._model = open_whisper_model(model_spec, compute_type=compute_type, cpu_threads=threads)
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
        self._lock = threading.Lock()

    def languages(self) -> frozenset[str]:
        return self._languages

    def transcribe(self, pcm: bytes, sample_rate_hz: int, language: str | None) -> Recognition | None:
        language = self._checked_language(language) if language else None
        samples = resample(pcm16_to_float32(pcm), sample_rate_hz, WHISPER_RATE_HZ)
        duration_ms = samples.size * 1000 // WHISPER_RATE_HZ
        loudness = rms_dbfs(samples)
        if duration_ms < MIN_AUDIO_MS or loudness < DIGITAL_SILENCE_DBFS:
            return None
        with self._lock:
            language, language_probability = self._pick_language(samples, language)
            segments, _ = self._model.transcribe(
                samples,
                language=language,
                task="transcribe",
                beam_size=self._beam_size,
                best_of=1,
                temperature=self._temperatures,
                no_speech_threshold=self._no_speech_threshold,
                log_prob_threshold=self._logprob_threshold,
                condition_on_previous_text=False,
                without_timestamps=True,
                vad_filter=False,
                max_new_tokens=min(_MAX_NEW_TOKENS, 20 + _TOKENS_PER_SECOND * min(30, duration_ms // 1000 + 1)),
            )
            segments = list(segments)  # decoding happens while iterating: keep it under the lock
        kept = [s for s in segments if not self._is_no_speech(s.no_speech_prob, s.avg_logprob)]
        text = _clean(" ".join(s.text for s in kept))
        if not kept or not text:
            return None
        no_speech = max(s.no_speech_prob for s in kept)
        if _is_stock_hallucination(text) and (loudness < QUIET_DBFS or no_speech > 0.3):
            return None
        confidence = math.exp(sum(s.avg_logprob for s in kept) / len(kept))
        return Recognition(
            text=text,
            language=language,
            confidence=min(1.0, max(0.0, confidence)),
            language_probability=language_probability,
            no_speech_probability=no_speech,
            duration_ms=duration_ms,
        )

    def _checked_language(self, language: str) -> str:
        code = re.split(r"[-_]", language.strip().lower(), maxsplit=1)[0]  # "en-US" -> "en"
        if code not in self._languages:
            raise LanguageNotSupported(language, self.name, self._languages)
        return code

    def _pick_language(self, samples: np.ndarray, requested: str | None) -> tuple[str, float]:
        if requested is not None:
            return requested, 1.0
        if not self.multilingual:
            return "en", 1.0
        _, _, ranked = self._model.detect_language(audio=samples, language_detection_segments=1)
        probabilities = dict(ranked)
        best = max(self._candidates, key=lambda code: probabilities.get(code, 0.0))
        if probabilities.get(best, 0.0) >= self._language_threshold:
            return best, probabilities[best]
        return self._default_language, probabilities.get(self._default_language, 0.0)

    def _is_no_speech(self, no_speech_prob: float, avg_logprob: float) -> bool:
        return no_speech_prob > self._no_speech_threshold and avg_logprob < self._logprob_threshold


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
