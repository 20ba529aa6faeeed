"""One listener on /ws/listen: in one room, reading (and hearing) it in one language, which it may change.

It sends nothing but listen messages; the room gives it results through `deliver` (rooms/directory.py). It is
admitted like a speaker (gateway.admit_listener: credential, role, a listener slot), then joins its room, which may
refuse it (room full, too many rooms): then it gets the error and the close, and never `connected`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from babelstream.contracts.events import new_id
from babelstream.gateway import messages
from babelstream.gateway.close_codes import CloseCode
from babelstream.gateway.errors import Kind, SessionEnded
from babelstream.gateway.metrics import GatewayMetrics
from babelstream.gateway.shared_message import SharedMessage
from babelstream.gateway.rooms.directory import RoomDirectory
from babelstream.gateway.rooms.listen_requests import ListenRequest, parse_listen_message
from babelstream.gateway.rooms.listener_outbox import ListenerOutbox, ListenerSocket
from babelstream.gateway.settings import GatewaySettings
from babelstream.gateway.stream_limits import StreamLimits

log = logging.getLogger(__name__)

# How long a listener that is being closed is given to take what is queued for it (the error among it).
_LAST_MESSAGES_SECONDS = 5.0


class ClosableSocket(ListenerSocket, Protocol):
    def close(self, code: int) -> None: ...

    def ping(self) -> int:
        """Sends a ping; returns the pongs received before it."""

    @property
    def pongs(self) -> int: ...


class Listener:
    __slots__ = ("_directory", "_limits", "_loop", "_metrics", "_pongs_before_ping", "_settings", "_socket",
                 "audio", "check_language", "joined", "language", "member_id", "outbox", "partials", "room", "voice",
                 "__weakref__")

    def __init__(self, socket: ClosableSocket, request: ListenRequest, directory: RoomDirectory,
                 settings: GatewaySettings, metrics: GatewayMetrics, check_language):
        """check_language(code): raises SessionEnded when nothing here can give a room's talk in that language."""
        self._socket = socket
        self._directory = directory
        self._settings = settings
        self._metrics = metrics
        self._loop = asyncio.get_running_loop()
        self._limits = StreamLimits(settings.max_messages_per_second, settings.max_audio_speed,
                                    settings.max_audio_burst_seconds, 1)
        self.check_language = check_language
        self.member_id = new_id()
        self.room = request.room
        self.language = request.language
        self.voice = request.voice
        self.audio = request.audio  # how spoken translations come: listen_requests.AUDIO_FORMATS
        self.partials = request.partials  # the speakers' interim results (partials=0 in the query: none)
        self.joined = False
        self._pongs_before_ping: int | None = None  # the pong count when the last keepalive ping went out
        self.outbox = ListenerOutbox(
            socket,
            limit_bytes=settings.max_listener_queue_bytes,
            on_overflow=self._not_reading,
            on_audio_skipped=self._audio_skipped,
        )

    def start(self) -> None:
        """Joins the room, then says who it is; what it listens to and the room's history follow once this gateway
        has the history (at once, unless it is only now reading the room back). Raises SessionEnded (nothing sent
        yet) when it may not."""
        self.check_language(self.language)
        self._directory.join_listener(self, self.room)
        self.joined = True
        self.outbox.put(messages.encode(messages.connected(self.member_id, room=self.room)))
        self._directory.when_history_ready(self, self.room, self._listening)

    def _listening(self) -> None:
        history = self._directory.history(self.room, self.language)
        self.outbox.put(messages.encode(
            messages.listening(self.room, self.language, voice=self.voice, audio=self.audio, partials=self.partials,
                               history=len(history))
        ))
        for message in history:
            self.outbox.put(messages.encode(message))

    # -- Member ----------------------------------------------------------------------------------------------

    def deliver(self, shared: SharedMessage, *, audio: bool, interim: bool = False) -> None:
        outbox = self.outbox
        if interim:
            skipped = outbox.interim_skipped
            outbox.put(shared.text, interim=True)
            if outbox.interim_skipped != skipped:
                self._metrics.listener_partials_dropped.inc()
            return
        skipped = outbox.audio_skipped
        if shared.spoken and self.audio != "json":
            outbox.put(shared.audio_frame(opus=self.audio == "opus"), audio=audio)
        else:
            outbox.put(shared.text, audio=audio)
        if outbox.audio_skipped != skipped:
            self._metrics.listener_audio_dropped.inc()

    def audience_changed(self, message: dict) -> None:
        pass  # a listener is not shown the audience

    def keepalive(self) -> None:
        """Called every LISTENER_PING_SECONDS: a listener only listens, so without this a peer whose network died
        would hold its place for ever in a silent room. The ping before this one must have been answered."""
        if self._pongs_before_ping is not None and self._socket.pongs <= self._pongs_before_ping:
            self.end(SessionEnded(
                CloseCode.GOING_AWAY, "no answer to the server's ping: the connection seems gone", kind=Kind.IDLE
            ))
            return
        self._pongs_before_ping = self._socket.ping()

    # -- what the listener sends ---------------------------------------------------------------------------------

    def receive_text(self, text: str) -> None:
        try:
            if not self._limits.message(self._loop.time()):
                raise SessionEnded(
                    CloseCode.POLICY_VIOLATION,
                    f"rate exceeded: over {self._settings.max_messages_per_second} messages per second",
                    kind=Kind.RATE,
                )
            change = parse_listen_message(text)
            old_language = self.language
            if change.language is not None:
                self.check_language(change.language)
                self.language = change.language
            if change.voice is not None:
                self.voice = change.voice
            self._directory.listener_changed(self, self.room, old_language)
            # From the next utterance on: what was said before is not repeated in the new language.
            self.outbox.put(messages.encode(messages.listening(
                self.room, self.language, voice=self.voice, audio=self.audio, partials=self.partials, history=0,
            )))
        except SessionEnded as ended:
            self.end(ended)

    def receive_frame_without_message(self) -> None:
        if not self._limits.message(self._loop.time()):
            self.end(SessionEnded(CloseCode.POLICY_VIOLATION, "rate exceeded", kind=Kind.RATE))

    # -- ending ----------------------------------------------------------------------------------------------

    def end(self, ended: SessionEnded) -> None:
        """Says why (after what is queued), then closes."""
        self._metrics.rejections.labels(reason=ended.kind, transport="websocket").inc()
        self.leave()
        self.outbox.put(messages.encode(messages.error(ended)))
        self.outbox.seal()
        self._loop.create_task(self._close_after_queue(ended.code))

    async def _close_after_queue(self, code: int) -> None:
        try:
            await self.outbox.drained(_LAST_MESSAGES_SECONDS)
        finally:
            self._socket.close(code)

    def _not_reading(self) -> None:
        limit = self._settings.max_listener_queue_bytes
        log.info("listener %s in room %s closed: over %d bytes waiting", self.member_id, self.room, limit)
        self._metrics.rejections.labels(reason=Kind.SLOW_READER, transport="websocket").inc()
        self.leave()
        self._socket.close(CloseCode.POLICY_VIOLATION)  # what is queued is dropped: the client is not reading

    def _audio_skipped(self) -> str:
        return messages.encode(messages.warning(
            Kind.AUDIO_SKIPPED,
            "you are not keeping up: spoken translations are skipped until you catch up (text still comes)",
        ))

    def leave(self) -> None:
        if self.joined:
            self.joined = False
            self._directory.leave(self, self.room)

    def disconnected(self) -> None:
        self.leave()
        self.outbox.stop()
