"""What an endpointer gives (utterances) and what it is set up with, in whole detector frames."""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil

from babelstream.engines.vad.base import InvalidVadConfig, VoiceActivityDetector

SAMPLE_WIDTH_BYTES = 2
# The endpointer's defaults (both implementations, and the probe's cut-lag arithmetic, read them from here).
MIN_SILENCE_MS = 300
MAX_SEGMENT_MS = 15_000
PRE_ROLL_MS = 200
MIN_SPEECH_MS = 150
POST_ROLL_MS = 200
# At this much silence the endpointer offers the utterance as tentative (speculative finalisation): the pipeline can
# start on it while the pause may still turn out to be in-sentence. 0 turns it off.
SPECULATE_MS = 140
# Frames the detector still calls speech right after speech but quieter than this (RMS, dBFS) count as pause:
# WebRTC's detector keeps saying "speech" for 60-120 ms of silence after speech ends (its hangover), which delayed
# every end of utterance by as much (docs/benchmarks/interim-results.md). At most QUIET_TAIL_MAX_MS are counted.
QUIET_DBFS = -50.0
QUIET_TAIL_MAX_MS = 160

# What an Utterance is: ended (the pause was long enough), tentative (offered at the first short pause), or
# withdrawn (the speaker went on after a tentative one: it is void, and the utterance continues).
FINAL = "final"
TENTATIVE = "tentative"
WITHDRAWN = "withdrawn"


@dataclass(frozen=True)
class Utterance:
    """pcm spans exactly [start_ms, end_ms) of the stream: the speech plus its pre-roll and a little trailing silence."""

    pcm: bytes
    start_ms: int
    end_ms: int
    kind: str = FINAL

    @property
    def duration_ms(self) -> int:
        return self.end_ms - self.start_ms


@dataclass(frozen=True)
class FrameCounts:
    """An endpointer's settings as whole frames of its detector: the per-frame path does no clock arithmetic."""

    frame_ms: int
    frame_bytes: int
    silence_frames_to_end: int
    max_frames: int
    pre_roll_frames: int
    min_voiced_frames: int
    post_roll_frames: int
    speculate_frames: int = 0  # 0: no tentative utterances
    quiet_tail_frames: int = 0  # how many quiet "speech" frames before a pause may count as part of it
    quiet_energy: float = 0.0  # a frame's mean squared sample below this is quiet

    @classmethod
    def of(
        cls,
        vad: VoiceActivityDetector,
        *,
        min_silence_ms: int = MIN_SILENCE_MS,
        max_segment_ms: int = MAX_SEGMENT_MS,
        pre_roll_ms: int = PRE_ROLL_MS,
        min_speech_ms: int = MIN_SPEECH_MS,
        post_roll_ms: int = POST_ROLL_MS,
        speculate_ms: int = 0,
        quiet_dbfs: float | None = None,
    ) -> FrameCounts:
        """The one place both endpointers take their settings from (their keyword arguments come here)."""
        frame_ms = vad.frame_ms
        if frame_ms <= 0 or vad.sample_rate_hz * frame_ms % 1000:
            raise InvalidVadConfig(f"a {frame_ms} ms frame is not a whole number of samples at {vad.sample_rate_hz} Hz")
        if max_segment_ms < 2 * frame_ms or min_silence_ms < frame_ms:
            raise InvalidVadConfig("max_segment_ms and min_silence_ms must each span at least one frame")
        if pre_roll_ms < 0 or post_roll_ms < 0 or min_speech_ms < 0:
            raise InvalidVadConfig("pre_roll_ms, post_roll_ms and min_speech_ms must not be negative")
        silence_frames_to_end = ceil(min_silence_ms / frame_ms)
        if speculate_ms < 0:
            raise InvalidVadConfig("speculate_ms must not be negative")
        speculate_frames = ceil(speculate_ms / frame_ms)
        return cls(
            frame_ms=frame_ms,
            frame_bytes=vad.sample_rate_hz * frame_ms // 1000 * SAMPLE_WIDTH_BYTES,
            silence_frames_to_end=silence_frames_to_end,
            max_frames=max_segment_ms // frame_ms,
            pre_roll_frames=ceil(pre_roll_ms / frame_ms),
            min_voiced_frames=max(1, ceil(min_speech_ms / frame_ms)),
            # Trailing silence kept can never exceed the silence that ended the segment.
            post_roll_frames=min(ceil(post_roll_ms / frame_ms), silence_frames_to_end),
            # A speculation only helps before the utterance would end anyway.
            speculate_frames=speculate_frames if 0 < speculate_frames < silence_frames_to_end else 0,
            quiet_tail_frames=0 if quiet_dbfs is None else ceil(QUIET_TAIL_MAX_MS / frame_ms),
            quiet_energy=0.0 if quiet_dbfs is None else (32768 * 10 ** (quiet_dbfs / 20)) ** 2,
        )
