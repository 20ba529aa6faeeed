"""Stage configuration. Every field is read from the environment variable of the same name (upper case)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class StageSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    # English speech goes to the small English-only model; anything else (or undeclared) to the multilingual one.
    # Bundled: "tiny.en" and "base". Any faster-whisper name, local path or hub id works too (hub needs network).
    asr_model_english: str = "tiny.en"
    asr_model_multilingual: str = "base"
    asr_compute_type: str = "int8"
    # 0 lets CTranslate2 choose; on a shared 2-core box 2 is the sensible ceiling.
    asr_cpu_threads: int = 2
    # Concurrent utterances are decoded in batches of up to this many (one encoder call and one greedy decode for
    # those of the same window: the same text as one at a time, for less CPU; docs/benchmarks/asr-throughput.md).
    # 1 decodes one utterance at a time.
    asr_batch_size: int = 8
    # How long an utterance may wait for others to fill its batch once the model is free. A lone speaker's every
    # utterance would pay it; at 0 a batch is what queued while the previous one ran (under load, a full one).
    asr_batch_max_wait_ms: int = 0
    # Model replicas (CTranslate2 inter_threads) decoding batches at the same time, each on ASR_CPU_THREADS threads.
    asr_workers: int = 1
    # Whisper's encoder sees each utterance padded to max(this, 2x its length) instead of 30 s: far less
    # compute on short utterances, same transcripts (docs/benchmarks/engines.md); 30 restores faster-whisper's.
    asr_min_window_seconds: float = 10.0
    # Detected languages below this probability fall back to ASR_FALLBACK_LANGUAGE.
    asr_language_threshold: float = 0.5
    asr_fallback_language: str = "en"
    # Interim results: the ASR stage's process also decodes open utterances' windows (stages/partial_asr.py), with
    # a model instance of its own on this many threads, and only while no final is being decoded.
    asr_partials: bool = True
    asr_partial_threads: int = 1
    # Partial translations (start message `translate_partials`): the translate stage's process translates an open
    # utterance's stable text at most this often per session (each one costs an MT call the final repeats anyway).
    partial_translation_interval_ms: int = Field(1000, ge=100, le=10_000)
    # User-supplied CTranslate2 OPUS-MT/NLLB models: "en-de=/models/opus-mt-en-de,en-fr=/models/opus-mt-en-fr".
    mt_opus_models: str = ""
    # Fixed paths for some pairs, overriding the measured ranking: "en-es=en>pt>es,es-en=es>en" (a pivot names
    # one intermediate language; each hop must be served by an installed engine, checked at start).
    mt_routes: str = ""
    # The ranking the router picks paths by: a table written by `bench/translation_quality.py --table FILE`.
    # Empty: the table shipped with the package (measured on the reference set with the bundled engines).
    mt_quality_table: str = ""
    # Pairs whose chosen path measured a chrF below this are listed as low quality in /api/languages.
    mt_quality_floor: float = 45.0
    # English speech with the neural piper voice (joe, en_US) instead of espeak-ng.
    tts_neural_english: bool = True
    # Load models when the stage starts rather than on the first message.
    warm_up: bool = True
    # Pairs whose translators start (and whose target voices load) with the stage: the first sentence
    # then costs no Apertium pipeline start-up or model load.
    warm_up_pairs: str = "en-es"
    # A `babelstream stage` process serves /healthz, /readyz and Prometheus /metrics here, with no credentials:
    # loopback by default, or the operator's own network (compose binds 0.0.0.0 inside its network). 0 serves none.
    # Stages sharing a host each need their own port (--metrics-port).
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9100
    # Files babelstream makes once and keeps: the joined Whisper base model (scripts/kafka.sh keeps its jars here too).
    babelstream_cache: Path = Path.home() / ".cache" / "babelstream"

    def warm_up_pair_list(self) -> list[tuple[str, str]]:
        pairs = []
        for item in self.warm_up_pairs.split(","):
            if "-" in item:
                source, target = item.strip().split("-", 1)
                pairs.append((source, target))
        return pairs
