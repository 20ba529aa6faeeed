"""What one stream may send per second: messages (every frame counts), and audio, in seconds of audio per second.

Both are token buckets, not fixed windows: the loop sees frames when it handles them, not when they arrived, so
after a stall a well-behaved client's queued frames come in a burst, and a window would close it for abuse.
- Messages: `messages_per_second` tokens a second, holding one second's worth. At 20 ms frames a client sends
  50 a second, so the 200 default leaves a three-second backlog of headroom; a flood trips within a fraction of a
  second.
- Audio: `audio_speed` seconds of audio per second on average, holding `audio_burst_seconds` of audio: a client
  may catch up after a network stall that long, but nobody sends an hour of speech in a minute (each second of
  speech is ASR, MT and TTS work for the pipeline behind the gateway).
"""

from __future__ import annotations

from babelstream.gateway.errors import Kind


class StreamLimits:
    # Slots: 1,000 streams' objects are touched 50 times a second each; attributes in the object itself rather than
    # a dict keep each frame to fewer cache lines (docs/benchmarks/gateway-capacity.md).
    __slots__ = (
        "_audio", "_audio_at", "_audio_capacity", "_audio_refill", "_messages", "_messages_at",
        "audio_burst_seconds", "audio_speed", "messages_per_second"
    )

    def __init__(self, messages_per_second: int, audio_speed: float, audio_burst_seconds: float,
                 audio_bytes_per_second: int):
        """audio_bytes_per_second: of the audio as the client sends it (PCM16 at its declared rate)."""
        self.messages_per_second = messages_per_second
        self._messages = float(messages_per_second)
        self._messages_at = float("-inf")  # the first call refills to a full bucket
        self.audio_speed = audio_speed
        self.audio_burst_seconds = audio_burst_seconds
        self.set_audio_rate(audio_bytes_per_second)

    def set_audio_rate(self, audio_bytes_per_second: int) -> None:
        """The start message declared another sample rate: real time is another number of bytes."""
        self._audio_refill = audio_bytes_per_second * self.audio_speed
        self._audio_capacity = audio_bytes_per_second * self.audio_burst_seconds
        self._audio = self._audio_capacity
        self._audio_at = float("-inf")

    def message(self, now: float) -> bool:
        tokens = self._messages + (now - self._messages_at) * self.messages_per_second
        if tokens > self.messages_per_second:
            tokens = self.messages_per_second
        self._messages_at = now
        if tokens < 1.0:
            self._messages = tokens
            return False
        self._messages = tokens - 1.0
        return True

    def audio(self, now: float, size: int) -> Kind | None:
        """One audio frame: None when both limits allow it, else the kind of the one it breaks."""
        # Called for every frame of every stream: both buckets in one call, a handful of bytecodes each.
        tokens = self._messages + (now - self._messages_at) * self.messages_per_second
        if tokens > self.messages_per_second:
            tokens = self.messages_per_second
        self._messages_at = now
        if tokens < 1.0:
            self._messages = tokens
            return Kind.RATE
        self._messages = tokens - 1.0
        audio = self._audio + (now - self._audio_at) * self._audio_refill
        if audio > self._audio_capacity:
            audio = self._audio_capacity
        self._audio_at = now
        if audio < size:
            self._audio = audio
            return Kind.AUDIO_TOO_FAST
        self._audio = audio - size
        return None
