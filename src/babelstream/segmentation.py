"""Cutting speech into utterances, shared by the gateway (live streams) and the segmenter stage (recordings).

Settings are read from the environment variables of the same name (upper case).
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from babelstream.contracts.audio_format import PIPELINE_SAMPLE_RATE_HZ
from babelstream.engines.vad import Endpointer, SileroVad, Utterance, WebRtcVad, split_recording
from babelstream.engines.vad.utterance import QUIET_DBFS, SPECULATE_MS, FrameCounts


class SegmentationSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    # "webrtc" (default: cheapest per frame, sustains thousands of streams) or "silero" (neural, more robust).
    vad_engine: str = "webrtc"
    # webrtcvad 0..3: higher drops more non-speech.
    vad_aggressiveness: int = 2
    # A pause this long ends an utterance.
    min_silence_ms: int = 300
    # An utterance is cut here even without a pause, so no segment outgrows the inline audio cap.
    max_segment_ms: int = 15_000
    # Live streams: at this much silence the utterance is published as tentative, so its transcript and translation
    # are ready when the pause reaches MIN_SILENCE_MS (or, when they show a finished sentence, end it then).
    # 0 turns it off. Recordings (the segmenter stage) are cut without it.
    speculate_ms: int = SPECULATE_MS
    # Real-time streams (not batch ones): frames the detector still calls speech just before a pause, but quieter
    # than this (RMS, dBFS), count as pause (WebRTC's detector says "speech" for 60-120 ms after speech ends), for
    # SPECULATE_MS, EARLY_END_PAUSE_MS and the cut at MIN_SILENCE_MS, which then comes that much sooner after the
    # speech. Where the room is noisier than this, nothing is counted and the detector alone decides. 0 counts none.
    # -50 meets the end-of-utterance target (docs/benchmarks/interim-results.md).
    vad_quiet_dbfs: float = Field(-50.0, le=0)


def _new_vad(settings: SegmentationSettings):
    if settings.vad_engine == "silero":
        return SileroVad(sample_rate_hz=PIPELINE_SAMPLE_RATE_HZ)
    if settings.vad_engine == "webrtc":
        return WebRtcVad(sample_rate_hz=PIPELINE_SAMPLE_RATE_HZ, frame_ms=20, aggressiveness=settings.vad_aggressiveness)
    raise ValueError(f"VAD_ENGINE must be 'webrtc' or 'silero', got {settings.vad_engine!r}")


def endpointer_factory(settings: SegmentationSettings):
    _new_vad(settings)  # fail at start, not on the first stream, when the setting is wrong

    def new_endpointer(*, recording: bool = False) -> Endpointer:
        """recording: a batch session's audio, sent faster than it was spoken. Nobody waits at its pauses, so a
        pause is the detector's alone: counted from the speech it would also cut at some commas, which costs a
        translation more than the ~100 ms it saves."""
        return Endpointer(
            _new_vad(settings), min_silence_ms=settings.min_silence_ms, max_segment_ms=settings.max_segment_ms,
            speculate_ms=settings.speculate_ms,
            quiet_dbfs=None if recording else settings.vad_quiet_dbfs or None,
        )

    return new_endpointer


def frame_counts(settings: SegmentationSettings) -> FrameCounts:
    """The live endpointer's settings in whole frames of its detector: when, after a pause begins, it cuts."""
    return FrameCounts.of(_new_vad(settings), min_silence_ms=settings.min_silence_ms, max_segment_ms=settings.max_segment_ms)


def split(settings: SegmentationSettings, pcm: bytes) -> list[Utterance]:
    return split_recording(
        _new_vad(settings), pcm, min_silence_ms=settings.min_silence_ms, max_segment_ms=settings.max_segment_ms
    )
