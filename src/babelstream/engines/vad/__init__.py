"""Voice activity detection and endpointing: where utterances start and end in a PCM16 stream."""

from babelstream.engines.vad.base import InvalidVadConfig, VoiceActivityDetector
from babelstream.engines.vad.endpointer import Endpointer, Utterance, split_recording
from babelstream.engines.vad.silero import SileroVad
from babelstream.engines.vad.webrtc import WebRtcVad

__all__ = [
    "Endpointer",
    "InvalidVadConfig",
    "SileroVad",
    "Utterance",
    "VoiceActivityDetector",
    "WebRtcVad",
    "split_recording",
]
