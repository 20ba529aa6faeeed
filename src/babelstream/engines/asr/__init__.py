"""Speech recognition: PCM16 utterances in, text (or nothing) out."""

from babelstream.engines.asr.base import (
    AsrError,
    LanguageNotSupported,
    ModelNotAvailable,
    Recognition,
    SpeechRecognizer,
)
from babelstream.engines.asr.models import BUNDLED_MODELS, open_whisper_model, resolve_model
from babelstream.engines.asr.whisper import TranscriptionRequest, WhisperRecognizer

__all__ = [
    "BUNDLED_MODELS",
    "AsrError",
    "LanguageNotSupported",
    "ModelNotAvailable",
    "Recognition",
    "SpeechRecognizer",
    "TranscriptionRequest",
    "WhisperRecognizer",
    "open_whisper_model",
    "resolve_model",
]
