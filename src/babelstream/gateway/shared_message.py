"""One message for many room members: built once (messages.py), encoded once per wire format however many read it.

A room's result goes to every member that reads its language, on whichever door each came in: the WebSocket's
JSON text and gRPC's protobuf bytes are each made at most once per message (the transport's `encode` function is
the key), not once per member. A spoken translation has three more forms, each made only if a member takes it:
the JSON message with the WAV inline (base64: what /ws/audio sends), and the binary audio frames of /ws/listen
(Ogg Opus, or the WAV; docs/protocol.md, "Rooms").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from babelstream.contracts.events import AudioSynthesisPayload
from babelstream.gateway import messages

Encoded = TypeVar("Encoded", str, bytes)


class SharedMessage:
    __slots__ = ("_audio", "_encoded", "_frames", "_header", "_message")

    def __init__(self, message: dict, audio: AudioSynthesisPayload | None = None):
        """`audio`: the spoken translation whose message (without its bytes) `message` is."""
        self._header = message
        self._audio = audio
        self._message = message if audio is None else None
        self._encoded: dict[Callable, str | bytes] = {}
        self._frames: dict[bool, bytes] = {}

    @property
    def spoken(self) -> bool:
        """A spoken translation (it has binary forms)."""
        return self._audio is not None

    @property
    def message(self) -> dict:
        """The message as a JSON client gets it (a spoken translation with its WAV inline, base64)."""
        if self._message is None:
            self._message = messages.with_inline_audio(self._header, self._audio)
        return self._message

    def encoded(self, encode: Callable[[dict], Encoded]) -> Encoded:
        cached = self._encoded.get(encode)
        if cached is None:
            cached = self._encoded[encode] = encode(self.message)
        return cached

    @property
    def text(self) -> str:
        """As the WebSocket sends it (JSON)."""
        return self.encoded(messages.encode)

    def audio_frame(self, *, opus: bool) -> bytes:
        """A spoken translation as a binary frame's payload: Ogg Opus (`opus`, when the tts stage made it), or the
        WAV."""
        frame = self._frames.get(opus)
        if frame is None:
            frame = self._frames[opus] = messages.audio_frame(self._header, self._audio, opus=opus)
        return frame
