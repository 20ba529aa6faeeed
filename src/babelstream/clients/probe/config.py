"""What a probe run does: where, how many utterances, how many speakers at once, in which languages."""

from __future__ import annotations

from dataclasses import dataclass

from babelstream.client.connection import DEFAULT_URL

PAUSE_MS = 700  # after each utterance: longer than the endpointer's MIN_SILENCE_MS, so it cuts there
LEAD_IN_MS = 300  # silence before the first utterance of a session
# A session carries at most this much audio: the gateway ends sessions at MAX_SESSION_SECONDS (60 by default).
SESSION_AUDIO_BUDGET_MS = 40_000


@dataclass(frozen=True)
class ProbeConfig:
    url: str = DEFAULT_URL
    n: int | None = 100  # utterances in all; None: keep talking for duration_seconds
    concurrency: int = 1
    targets: tuple[str, ...] = ("es",)
    language: str = "en"
    synthesize: bool = True
    duration_seconds: float | None = None
    seed: int = 7
    pause_ms: int = PAUSE_MS
    session_audio_budget_ms: int = SESSION_AUDIO_BUDGET_MS
    cut_lag_ms: int | None = None  # None: from the segmentation settings (trace.default_cut_lag_ms)
