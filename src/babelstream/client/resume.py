"""What a client keeps to take its session up again after its connection (or its gateway) died, and the bounded,
backed-off reconnection that does it (docs/protocol.md, "Resuming a session").

    resumer = Resumer(start)
    ... resumer.observe(message) for every message the server sends ...
    if resumer.should_resume(connection):
        connection = await resumer.reconnect(urls, ms)  # a new socket, the resume message sent
        send again from resumer.audio_ms                # (reconnect's audio_ms): what may not be published

The client sends again its audio from the end of the last utterance the server announced (`segment`): whatever the
dead gateway had not published is then translated after all, and what it had is skipped by the server.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque

from babelstream.client.connection import AudioConnection, ConnectFailed
from babelstream.client.messages import (
    Audio, Connected, Resumed, Segment, ServerMessage, Start, Transcript, Translation,
)

# The server takes at most this many event ids in `received` (gateway/requests.py, MAX_RESUME_RECEIVED).
RECEIVED_REMEMBERED = 1500
# Closes a resume may follow: the socket died (no close frame: 1006, or none at all), the gateway shut down (1012),
# or the server could not read the session back yet (1013 with retry_after_ms).
_RESUMABLE_CLOSES = (None, 1006, 1012)
_RESUMABLE_KINDS = ("shutdown", "pipeline_unavailable")


class Resumer:
    def __init__(self, start: Start, *, retries: int = 5, first_backoff_seconds: float = 0.5,
                 max_backoff_seconds: float = 8.0):
        """retries: reconnections tried one after another before giving up (each one's wait doubles, from
        `first_backoff_seconds` up to `max_backoff_seconds`); a resumed session that then streams resets them."""
        self.start = start
        self.retries = retries
        self.first_backoff_seconds = first_backoff_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.correlation_id = ""
        self.token = ""
        self.audio_ms = 0  # where the audio to send again begins: the end of the last utterance announced
        self.received: deque[str] = deque(maxlen=RECEIVED_REMEMBERED)
        self.resumes = 0
        self._failures = 0

    def observe(self, message: ServerMessage) -> None:
        if isinstance(message, Connected) and not self.correlation_id:
            self.correlation_id, self.token = message.correlation_id, message.resume_token
        elif isinstance(message, Resumed):
            self.correlation_id, self.token = message.correlation_id, message.resume_token
            self.audio_ms = max(self.audio_ms, message.published_ms)
            self._failures = 0
        elif isinstance(message, Segment):
            self.audio_ms = max(self.audio_ms, message.end_ms)
        elif isinstance(message, (Transcript, Translation, Audio)) and message.event_id:
            self.received.append(message.event_id)

    def should_resume(self, connection: AudioConnection) -> bool:
        """Whether the connection ended in a way a resume answers (not a summary, not an error about the session)."""
        if not self.token or self._failures > self.retries:
            return False
        error = connection.error
        if error is not None:
            return error.kind in _RESUMABLE_KINDS
        return connection.close_code in _RESUMABLE_CLOSES

    def grpc_may_resume(self, code_name: str | None, kind: str | None) -> bool:
        """Whether a gRPC call that ended so is answered by a resume: UNAVAILABLE with no kind (the connection or
        the gateway died) or a resumable kind (gateway/grpc/status.py)."""
        if not self.token or self._failures > self.retries or code_name != "UNAVAILABLE":
            return False
        return kind is None or kind in _RESUMABLE_KINDS

    def fields(self, audio_ms: int) -> dict:
        """The resume's own fields. audio_ms: where the audio the client sends next begins (at most
        `self.audio_ms`, on a frame boundary)."""
        return {"correlation_id": self.correlation_id, "resume_token": self.token, "audio_ms": audio_ms,
                "received": list(self.received)}

    def message(self, audio_ms: int) -> str:
        return json.dumps({**self.start.message(), "event": "resume", **self.fields(audio_ms)})

    async def next_attempt(self) -> int | None:
        """Waits before the next try (doubling from `first_backoff_seconds`); its number among the session's
        connections, or None once `retries` tries in a row failed. A resume that streams resets the count."""
        if self._failures > self.retries:
            return None
        delay = min(self.max_backoff_seconds, self.first_backoff_seconds * 2 ** self._failures)
        attempt = self.resumes + self._failures + 1
        self._failures += 1
        await asyncio.sleep(delay)
        return attempt

    def resumed_on(self) -> None:
        """A connection took the resume message."""
        self.resumes += 1

    async def reconnect(self, urls: list[str], audio_ms: int) -> AudioConnection:
        """A new connection to one of `urls` (the next one each time), its resume message sent. Raises ConnectFailed
        once `retries` attempts in a row failed."""
        last: ConnectFailed | None = None
        while (attempt := await self.next_attempt()) is not None:
            url = urls[attempt % len(urls)]  # urls[0] was the first connection's
            try:
                connection = await AudioConnection.open(url)
            except ConnectFailed as failed:
                last = failed
                continue
            self.resumed_on()
            await connection.send_resume(self.message(audio_ms))
            return connection
        raise last or ConnectFailed(urls[0], ConnectionError("no retries left"))
