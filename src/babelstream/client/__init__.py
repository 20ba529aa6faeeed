"""The Python client of the `/ws/audio` protocol (docs/protocol.md): what `babelstream stream`,
`babelstream probe`, the tests and the benches speak it with.

- `connection.py` — one session: open (reads `connected`), send start / audio / done, receive, close code
- `messages.py`   — the messages as typed records, `parse` for what the server sends
- `pacing.py`     — when each frame leaves: real time, or as fast as the server's limits allow
- `audio.py`      — any WAV file as the wire format (PCM16 LE mono, 16 kHz)
"""

from babelstream.client.connection import AudioConnection, Closed, ConnectFailed, InvalidState, Refused, State
from babelstream.client.messages import (
    Ack,
    Audio,
    Connected,
    ErrorMessage,
    Ready,
    Segment,
    ServerMessage,
    Start,
    Summary,
    Transcript,
    Translation,
    Unknown,
    WarningMessage,
)
from babelstream.client.pacing import Pacing, as_fast_as_allowed, real_time

__all__ = [
    "Ack",
    "Audio",
    "AudioConnection",
    "Closed",
    "ConnectFailed",
    "Connected",
    "ErrorMessage",
    "InvalidState",
    "Pacing",
    "Ready",
    "Refused",
    "Segment",
    "ServerMessage",
    "Start",
    "State",
    "Summary",
    "Transcript",
    "Translation",
    "Unknown",
    "WarningMessage",
    "as_fast_as_allowed",
    "real_time",
]
