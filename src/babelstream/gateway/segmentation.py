"""Builds the per-stream endpointer for live mode from the gateway settings."""

from __future__ import annotations

from babelstream.engines.vad import Endpointer, SileroVad, WebRtcVad
from babelstream.gateway.protocol import PIPELINE_SAMPLE_RATE_HZ
from babelstream.gateway.settings import GatewaySettings


def segmenter_factory(settings: GatewaySettings):
    if settings.vad_engine not in ("webrtc", "silero"):
        raise ValueError(f"VAD_ENGINE must be 'webrtc' or 'silero', got {settings.vad_engine!r}")

    def new_segmenter() -> Endpointer:
        if settings.vad_engine == "silero":
            vad = SileroVad(sample_rate_hz=PIPELINE_SAMPLE_RATE_HZ)
        else:
            vad = WebRtcVad(sample_rate_hz=PIPELINE_SAMPLE_RATE_HZ, frame_ms=20, aggressiveness=settings.vad_aggressiveness)
        return Endpointer(vad, min_silence_ms=settings.min_silence_ms, max_segment_ms=settings.max_segment_ms)

    return new_segmenter
