"""One `/ws/audio` session from the client's side, on the `websockets` library.

    connection = await AudioConnection.open("ws://127.0.0.1:8000/ws/audio")   # reads `connected`
    async with connection:
        await connection.send_start(Start(targets=("es",)))
        reader = asyncio.create_task(read(connection.messages()))          # results arrive while it streams
        await connection.send_paced(pacing.frames(pcm), pacing)
        await connection.send_done()
        await reader                                                       # ... ack, summary, then close 1000

States: connecting -> streaming (the server said `connected`) -> draining (done sent) -> closed (the socket
closed, whoever closed it). Sends are checked against the state in one place, `_require`; `send_raw` is not
checked, for conformance tests that must send what a well-behaved client never would.
"""

from __future__ import annotations

import asyncio
import enum
import time
from typing import AsyncIterator

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from babelstream.client import pacing as _pacing
from babelstream.client.messages import DONE, Connected, ErrorMessage, Ready, ServerMessage, Start, parse

DEFAULT_URL = "ws://127.0.0.1:8000/ws/audio"


class State(enum.Enum):
    CONNECTING = "connecting"
    STREAMING = "streaming"
    DRAINING = "draining"
    CLOSED = "closed"


class ConnectFailed(Exception):
    """No session: nothing answered at the address, or not a WebSocket. The message says which, for a person."""

    def __init__(self, url: str, cause: BaseException):
        super().__init__(_describe(url, cause))
        self.url = url
        self.cause = cause


class Refused(ConnectFailed):
    """The server answered with an error instead of `connected` (at capacity: 1013, Origin: 1008)."""

    def __init__(self, url: str, error: ErrorMessage, close_code: int | None):
        self.url = url
        self.error = error
        self.close_code = close_code
        self.cause = None
        Exception.__init__(self, f"{url} refused the session: error {error.code}: {error.reason}")


class Closed(Exception):
    """The socket is closed (by the server, usually with an error message first): nothing more can be sent."""

    def __init__(self, code: int | None, reason: str):
        super().__init__(f"connection closed ({code}): {reason}" if reason else f"connection closed ({code})")
        self.code = code
        self.reason = reason


class InvalidState(RuntimeError):
    """A send the protocol does not allow now (audio after done, a start after audio)."""


class AudioConnection:
    def __init__(self, websocket: ClientConnection, url: str):
        self._ws = websocket
        self.url = url
        self.state = State.CONNECTING
        self.connected: Connected | None = None
        self.error: ErrorMessage | None = None  # the server's error message, when it sent one
        # The answer to the start message: what the session may send (ready.limits) paces the audio.
        # Fails with Closed if the socket closes first.
        self.ready: asyncio.Future[Ready] = asyncio.get_running_loop().create_future()
        self.ready.add_done_callback(lambda ready: ready.cancelled() or ready.exception())  # nobody need await it
        self._audio_sent = False
        self._start_sent = False

    # -- opening ----------------------------------------------------------------------------------

    @classmethod
    async def open(cls, url: str = DEFAULT_URL, *, origin: str | None = None, open_timeout: float = 10.0) -> AudioConnection:
        """Opens the socket and reads the server's first message.

        Raises ConnectFailed when no WebSocket opens, Refused when the server sends an error instead of
        `connected` (its close code is read before returning)."""
        headers = {"Origin": origin} if origin else None
        try:
            # max_size=None: an audio result is a whole WAV file in one message, larger than websockets' 1 MiB default.
            websocket = await connect(url, additional_headers=headers, max_size=None, open_timeout=open_timeout)
        except (OSError, InvalidURI, InvalidHandshake, TimeoutError, asyncio.TimeoutError) as error:
            raise ConnectFailed(url, error) from error
        connection = cls(websocket, url)
        try:
            first = await asyncio.wait_for(connection.receive(), open_timeout)
        except (Closed, asyncio.TimeoutError) as error:
            await websocket.close()
            raise ConnectFailed(url, error) from error
        if isinstance(first, ErrorMessage):
            try:
                await asyncio.wait_for(websocket.wait_closed(), open_timeout)  # for its close code
            except asyncio.TimeoutError:
                await websocket.close()
            connection.state = State.CLOSED
            raise Refused(url, first, websocket.close_code)
        if not isinstance(first, Connected):
            await websocket.close()
            raise ConnectFailed(url, ValueError(f"the server spoke first with {first.data!r}, not `connected`"))
        connection.connected = first
        connection.state = State.STREAMING
        return connection

    async def __aenter__(self) -> AudioConnection:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    @property
    def correlation_id(self) -> str:
        return self.connected.correlation_id if self.connected else ""

    # -- sending ----------------------------------------------------------------------------------

    async def send_start(self, start: Start) -> None:
        self._require(State.STREAMING, "a start message")
        if self._audio_sent or self._start_sent:
            raise InvalidState("the start message goes first, once, before any audio")
        self._start_sent = True
        await self._send(start.encode())

    async def send_resume(self, resume: str) -> None:
        """In place of the start message: take up a session that lost its connection (client/resume.py builds it)."""
        self._require(State.STREAMING, "a resume message")
        if self._audio_sent or self._start_sent:
            raise InvalidState("the resume message goes first, in place of the start message")
        self._start_sent = True
        await self._send(resume)

    async def send_audio(self, frame: bytes) -> None:
        """One binary frame of PCM16 LE (16 kHz mono unless the start message said otherwise)."""
        self._require(State.STREAMING, "audio")
        self._audio_sent = True
        await self._send(frame)

    async def send_paced(self, frames: list[bytes], pacing: _pacing.Pacing, stop: asyncio.Event | None = None) -> int:
        """The frames on the pacing's schedule; returns how many were sent (fewer when `stop` was set)."""
        return await _pacing.send_paced(self.send_audio, frames, pacing, stop)

    async def send_done(self) -> None:
        self._require(State.STREAMING, "done")
        self.state = State.DRAINING
        await self._send(DONE)

    async def send_raw(self, data: str | bytes) -> None:
        """Anything, unchecked: for tests of how the server treats what a client should not send."""
        await self._send(data)

    def _require(self, state: State, what: str) -> None:
        if self.state is State.CLOSED:
            raise Closed(self.close_code, self.close_reason)
        if self.state is not state:
            raise InvalidState(f"cannot send {what} while {self.state.value}")

    async def _send(self, data: str | bytes) -> None:
        try:
            await self._ws.send(data)
        except ConnectionClosed as error:
            self.state = State.CLOSED
            raise Closed(self.close_code, self.close_reason) from error

    # -- receiving --------------------------------------------------------------------------------

    async def receive(self) -> ServerMessage:
        """The next message from the server; raises Closed once the socket has closed."""
        while True:
            try:
                raw = await self._ws.recv()
            except ConnectionClosed as error:
                self.state = State.CLOSED
                closed = Closed(self.close_code, self.close_reason)
                if not self.ready.done():
                    self.ready.set_exception(closed)
                raise closed from error
            if isinstance(raw, str):  # the server sends only text; a binary frame is not part of the protocol
                break
        message = parse(raw, received_at=time.perf_counter())
        if isinstance(message, ErrorMessage):
            self.error = message
        elif isinstance(message, Ready) and not self.ready.done():
            self.ready.set_result(message)
        return message

    async def messages(self) -> AsyncIterator[ServerMessage]:
        """Every message until the server closes the socket (then `close_code` says how)."""
        while True:
            try:
                yield await self.receive()
            except Closed:
                return

    # -- closing ----------------------------------------------------------------------------------

    async def close(self) -> None:
        await self._ws.close()
        self.state = State.CLOSED

    @property
    def close_code(self) -> int | None:
        return self._ws.close_code

    @property
    def close_reason(self) -> str:
        return self._ws.close_reason or ""


def _describe(url: str, error: BaseException) -> str:
    if isinstance(error, InvalidURI):
        return f"invalid URL {url!r}: expected ws://host:port/ws/audio"
    if isinstance(error, ConnectionRefusedError):
        return f"cannot connect to {url}: connection refused (is `babelstream serve` or a gateway running there?)"
    if isinstance(error, InvalidStatus):
        return f"cannot connect to {url}: the server answered HTTP {error.response.status_code} (is the path /ws/audio?)"
    if isinstance(error, (TimeoutError, asyncio.TimeoutError)):
        return f"cannot connect to {url}: timed out"
    if isinstance(error, InvalidHandshake):
        return f"cannot connect to {url}: WebSocket handshake failed ({error})"
    if isinstance(error, Closed):
        return f"cannot connect to {url}: the server closed the connection before `connected` ({error})"
    return f"cannot connect to {url}: {error.strerror if isinstance(error, OSError) and error.strerror else error}"
