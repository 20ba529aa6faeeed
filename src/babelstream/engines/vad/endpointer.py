"""Cuts a live PCM16 stream into utterances: speech bounded by silence, with a hard length cap.

`Endpointer` is the C version (native_endpointer.py) when it was built, else the Python one
(python_endpointer.py), which is the specification both are tested against. They behave the same; the C one
costs less per frame, which matters at a thousand live streams per gateway core.
"""

from __future__ import annotations

from babelstream.engines.vad import native_endpointer
from babelstream.engines.vad.base import VoiceActivityDetector
from babelstream.engines.vad.native_endpointer import NativeEndpointer
from babelstream.engines.vad.python_endpointer import PythonEndpointer
from babelstream.engines.vad.utterance import Utterance

Endpointer: type[NativeEndpointer] | type[PythonEndpointer] = (
    NativeEndpointer if native_endpointer.AVAILABLE else PythonEndpointer
)

__all__ = ["Endpointer", "NativeEndpointer", "PythonEndpointer", "Utterance", "split_recording"]


def split_recording(vad: VoiceActivityDetector, pcm: bytes, **endpointer_options: int) -> list[Utterance]:
    """Endpoint a whole recording at once, e.g. an uploaded file."""
    endpointer = Endpointer(vad, **endpointer_options)
    return endpointer.feed(pcm) + endpointer.flush()
