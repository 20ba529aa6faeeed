"""One WebSocket session: streaming -> draining | ending -> closed.

The socket's server pushes what the client sends into the session (`receive_bytes`, `receive_text`,
`disconnected`), synchronously: no task wakes up per audio frame, which is what lets one process carry
about a thousand live streams. Streaming enforces the limits; in "live" mode each utterance is published as soon as the
speaker pauses, in "single" mode the audio is buffered and published once at done. Draining (after done) waits,
bounded, for the results, then sends a summary and closes 1000. Ending (a limit, an error, the client leaving)
applies the audio rule in one place (`_end`): what was received is published unless the cause is abuse (rate,
size). The session knows nothing of the gateway: what it needs comes in a SessionContext.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import TypeVar

import numpy as np
import soxr

from babelstream.bus.base import BusError
from babelstream.contracts.audio_format import PIPELINE_SAMPLE_RATE_HZ
from babelstream.contracts.errors import ContractError
from babelstream.contracts.events import (
    AudioInputPayload,
    Event,
    PartialTranscriptPayload,
    PartialTranslationPayload,
    SessionOptions,
    SpeechSegmentPayload,
    StageTiming,
    TextRecognizedPayload,
    new_id,
    utc_now,
)
from babelstream.contracts.wav import SAMPLE_WIDTH_BYTES, wrap_pcm16
from babelstream.engines.vad.utterance import FINAL, TENTATIVE, Utterance
from babelstream.gateway import messages
from babelstream.gateway.access.principal import ANONYMOUS, Principal, Role
from babelstream.gateway.close_codes import CloseCode
from babelstream.gateway.connection import Connection
from babelstream.gateway.errors import Kind, SessionEnded
from babelstream.gateway.ledger import ResultLedger
from babelstream.gateway.outbox import Outbox
from babelstream.gateway.partials import PartialResults, WindowingEndpointer
from babelstream.gateway.requests import DoneRequest, ResumeRequest, StartRequest, parse_text_message
from babelstream.gateway.resume_token import ResumeRefused
from babelstream.gateway.session_context import Endpointer, SessionContext
from babelstream.gateway.shared_message import SharedMessage
from babelstream.gateway.speculation import Speculation, ends_sentence
from babelstream.gateway.stream_limits import StreamLimits

log = logging.getLogger(__name__)

# How many of its segments' event ids a session's ack lists (the newest); `segments` still counts them all.
_ACK_EVENT_IDS = 1000


class SessionState(enum.Enum):
    STREAMING = "streaming"  # taking what the client sends
    DRAINING = "draining"  # done arrived: the rest is published, results awaited, then summary and close 1000
    ENDING = "ending"  # ended early (a limit, an error, the client left): the audio rule, then error and close
    CLOSED = "closed"


T = TypeVar("T")

_STREAMING = SessionState.STREAMING  # read once per frame: a module global is the cheapest lookup


# A done that came while a resume was read back: held in line behind the audio sent before it.
_DONE = object()


class ClientGone(Exception):
    pass


class AudioBuffer:
    """PCM held for one event: appended in pieces, copied once when joined."""

    def __init__(self) -> None:
        self._pieces: list[bytes] = []
        self.size = 0

    def append(self, pcm: bytes) -> None:
        if pcm:
            self._pieces.append(pcm)
            self.size += len(pcm)

    def joined(self) -> bytes:
        return b"".join(self._pieces)

    def clear(self) -> None:
        self._pieces.clear()
        self.size = 0


def frame_too_large(size: int, limit: int) -> SessionEnded:
    return SessionEnded(
        CloseCode.MESSAGE_TOO_BIG, f"frame of {size} bytes is over the {limit}-byte limit",
        kind=Kind.FRAME_TOO_LARGE,
        keep_audio=False,
    )


class Session:
    """Created once the socket is accepted; `run()` then owns it until the socket is closed."""

    # Slots: 1,000 streams' objects are touched 50 times a second each; attributes in the object itself rather than
    # a dict keep each frame to fewer cache lines (docs/benchmarks/gateway-capacity.md).
    __slots__ = (
        "_abandoned", "_batch_slot", "_buffer", "_bytes_counter", "_client_rate_hz", "_closing", "_endpointer",
        "_finished", "_held_audio", "_held_results", "_input", "_last_frame_at", "_limits", "_loop", "_max_chunk_bytes",
        "_max_seconds", "_next_segment", "_offset_ms", "_partials", "_partials_on", "_publishes", "_received_bytes",
        "_rejections", "_resampler", "_resuming", "_results_wait", "_segment_ids", "_skip_bytes", "_speculation",
        "_start_allowed", "_started_at", "_started_unix", "_translate_partials", "_translate_room_partials",
        "_unreachable", "client", "connection", "context", "correlation_id", "ended", "ledger", "mode", "options",
        "outbox", "principal", "room", "settings", "state", "transport", "wait_for_results", "__weakref__"
    )


    def __init__(self, connection: Connection, context: SessionContext, principal: Principal = ANONYMOUS,
                 client: str | None = None, transport: str = "websocket"):
        """transport: the door it came in by (`websocket`, `grpc`), for the metrics' `transport` label."""
        self.connection = connection
        self.transport = transport
        self.ended: SessionEnded | None = None  # why the session ended early, once it has (the gRPC status says it)
        self._rejections = context.metrics.rejections
        self.context = context
        self.principal = principal  # who the credential says this is (ANONYMOUS where auth is off)
        self.client = client  # the client's address (the peer, or whom a trusted proxy speaks for): for the log
        self.settings = settings = context.settings
        self.correlation_id = new_id()  # never one the client supplies
        self.ledger = ResultLedger()
        self.outbox = Outbox(
            connection,
            limit_bytes=settings.max_send_queue_bytes,
            on_overflow=self._client_not_reading,
            on_sent=lambda message: context.observer.message_sent(self, message),
        )
        self._limits = StreamLimits(
            settings.max_messages_per_second,
            settings.max_audio_speed,
            settings.max_audio_burst_seconds,
            PIPELINE_SAMPLE_RATE_HZ * SAMPLE_WIDTH_BYTES,
        )
        self._max_seconds = settings.max_session_seconds  # a batch session's is longer (_on_start)
        self._batch_slot = False
        self._client_rate_hz = PIPELINE_SAMPLE_RATE_HZ  # of the audio as sent (the start message may declare another)
        self._loop = asyncio.get_running_loop()
        # Resolved by done, or failed with why the stream ended early (a limit, a deadline, the client leaving):
        # what wakes `run`. `state` says which, for everyone else.
        self._input: asyncio.Future[None] = self._loop.create_future()
        self._bytes_counter = context.metrics.bytes_received
        self._max_chunk_bytes = settings.max_chunk_bytes
        self._started_at = self._loop.time()
        self._started_unix = time.time()  # what a resume token says, so a resumed session's limits count from here
        self._last_frame_at = self._started_at
        self._finished = asyncio.Event()  # set once run() is over: a resume of this session on this process waits
        # Resuming (`_on_resume`): what arrives while the trail is read back is held, then taken in order.
        self._resuming: asyncio.Future | None = None
        self._held_audio: list[bytes | object] | None = None  # frames, and _DONE
        self._held_results: list[Event] | None = None
        self._offset_ms = 0  # where this socket's audio begins on the session's timeline (a resume's audio_ms)
        self._skip_bytes = 0  # audio a resuming client sends again that was published already
        self._received_bytes = 0
        self._start_allowed = True  # until the start message or the first audio
        self.mode = settings.default_mode
        self.options = context.options.defaults()
        self.wait_for_results = True
        self._resampler: soxr.ResampleStream | None = None
        # "single" mode: the frames as received, joined once at publish. Not a growing bytearray: its reallocations
        # copy everything so far, and sessions that started together all copy at the same moment
        # (docs/benchmarks/gateway-capacity.md).
        self._buffer = AudioBuffer()
        self._endpointer: Endpointer | None = None  # "live" mode, made at the first audio
        self._next_segment = 0
        # The ack names the last of them: a talk of hours in a room cuts thousands, and memory must stay flat.
        self._segment_ids: deque[str] = deque(maxlen=_ACK_EVENT_IDS)
        self.room: str | None = None  # the room it speaks into, once its start message named one
        self._speculation: Speculation | None = None  # an utterance published at a short pause, not yet shown
        self._abandoned: set[int] = set()  # indexes of withdrawn speculations: their results are dropped
        self._partials_on = settings.partials  # the start message may turn them off (or on)
        self._translate_partials = False  # this session gets partial translations (into its own targets)
        self._translate_room_partials = False  # its room's listeners get them (into the room's languages)
        self._partials = PartialResults()
        self._publishes: set[asyncio.Task] = set()
        self._unreachable = False  # the client left, or stopped reading: no result can reach it
        self._closing: asyncio.Future | None = None  # the close of a client that stopped reading
        self._results_wait: asyncio.Future[bool] | None = None
        # Streaming from here: the server says who the session is before anything else, and results for it
        # can be routed as soon as its first utterance is published.
        self.state = SessionState.STREAMING
        tokens = context.resume_tokens
        self.outbox.put(messages.connected(
            self.correlation_id,
            **({} if tokens is None else {"resume_token": tokens.issue(self.correlation_id, principal, self._started_unix)}),
        ))
        context.results.register(self.correlation_id, self)
        context.observer.session_started(self)

    # -- lifecycle ---------------------------------------------------------------------------------

    async def run(self) -> None:
        await self.outbox.start()
        watchdog = asyncio.create_task(self._watch_deadlines())
        ended: SessionEnded | None = None
        try:
            try:
                await self._input
                watchdog.cancel()
                await self._drain()
            except SessionEnded as early:
                ended = early
                await self._end(early)
            except ClientGone:
                await self._publish_remaining()
        finally:
            watchdog.cancel()
            self.state = SessionState.CLOSED
            if self._batch_slot:
                self.context.batch_slots.release()
            if self.room is not None:
                self.context.rooms.leave(self, self.room)
            self.context.results.unregister(self.correlation_id, self)
            for task in self._publishes:
                task.cancel()
            if self._resuming is not None:
                self._resuming.cancel()
            await self.outbox.stop()
            self._finished.set()
            self.context.observer.session_ended(self, ended)

    @property
    def received_bytes(self) -> int:
        """Audio bytes the client sent so far (before any resampling)."""
        return self._received_bytes

    @property
    def reading(self) -> bool:
        """Whether the session still wants what the client sends (not after done or an early end)."""
        return self.state is _STREAMING

    def _expire(self, ended: SessionEnded | ClientGone) -> None:
        """Ends the stream: from a limit on the receive path, a deadline, a failed publish or the client leaving."""
        if self.state is _STREAMING:
            self.state = SessionState.ENDING
            self._input.set_exception(ended)

    async def _watch_deadlines(self) -> None:
        # One timer per session instead of a timeout around every receive: cheaper at thousands of streams.
        while True:
            session_deadline = self._started_at + self._max_seconds  # the start message may change it
            idle_deadline = self._last_frame_at + self.settings.idle_timeout_seconds
            now = self._loop.time()
            if now >= session_deadline:
                seconds = self._max_seconds
                return self._expire(
                    SessionEnded(
                        CloseCode.POLICY_VIOLATION, f"session longer than {seconds:g} s", kind=Kind.SESSION_TOO_LONG
                    )
                )
            if now >= idle_deadline:
                seconds = self.settings.idle_timeout_seconds
                return self._expire(
                    SessionEnded(CloseCode.GOING_AWAY, f"idle: no message for {seconds:g} s", kind=Kind.IDLE)
                )
            await asyncio.sleep(min(session_deadline, idle_deadline) - now + 0.01)

    # -- streaming: called by the socket's server for each message, on the event loop ---------------

    def receive_bytes(self, data: bytes) -> None:
        # The same preamble as receive_text, written out: this runs 50 times a second per stream.
        if self.state is not _STREAMING:
            return
        now = self._loop.time()
        self._last_frame_at = now
        try:
            broken = self._limits.audio(now, len(data))
            if broken is not None:
                raise self._rate_exceeded() if broken is Kind.RATE else self._audio_too_fast()
            self._bytes_counter.inc(len(data))
            self._on_audio(data)
        except SessionEnded as ended:
            self._expire(ended)
        except Exception:  # a bug must end this session clearly, not the server's read loop
            log.exception("session %s: audio frame failed", self.correlation_id)
            self._expire(SessionEnded(CloseCode.INTERNAL_ERROR, "internal error", kind=Kind.INTERNAL))

    def receive_text(self, text: str) -> None:
        self.receive_request(text, parse_text_message)

    def receive_request(
        self, request: T, parse: Callable[[T], StartRequest | DoneRequest | ResumeRequest] = lambda r: r
    ) -> None:
        """A start or a done as a door carries it, made one by `parse` (the WebSocket's text by parse_text_message,
        gRPC's Config by proto_messages.start_request; a DoneRequest is one already): counted toward the message rate
        before it is parsed, and refused by the same checks, whatever the door."""
        if self.state is not _STREAMING:
            return
        now = self._loop.time()
        self._last_frame_at = now
        try:
            if not self._limits.message(now):
                raise self._rate_exceeded()
            request = parse(request)
            if isinstance(request, DoneRequest):
                if self._held_audio is not None:
                    self._held_audio.append(_DONE)  # resuming: after the audio held before it
                    return
                self._done()
                return
            if isinstance(request, ResumeRequest):
                self._on_resume(request)
                return
            self._on_start(request)
        except SessionEnded as ended:
            self._expire(ended)

    def _done(self) -> None:
        self.state = SessionState.DRAINING
        self._input.set_result(None)

    def receive_frame_without_message(self) -> None:
        """A ping or a fragment: it counts toward the message rate, and (unlike audio or text) it does not show
        the client is still talking, so it does not put off the idle limit."""
        if self.state is _STREAMING and not self._limits.message(self._loop.time()):
            self._expire(self._rate_exceeded())

    def disconnected(self) -> None:
        self._unreachable = True
        self._expire(ClientGone())
        if self._results_wait is not None:
            self._results_wait.cancel()  # nobody is left to read the results

    def _client_not_reading(self) -> None:
        """The outbox is full: the client stopped reading. Its socket is closed now, past what is queued; what it
        said is published as for any other end (it is not abuse: a reader may just be slow or gone)."""
        limit = self.settings.max_send_queue_bytes
        ended = SessionEnded(
            CloseCode.POLICY_VIOLATION,
            f"the client is not reading: over {limit} bytes waiting to be sent",
            kind=Kind.SLOW_READER,
        )
        self._unreachable = True
        self.ended = ended
        self._closing = asyncio.ensure_future(self.outbox.abandon(ended.code))
        if self.state is _STREAMING:
            self._expire(ended)  # counted and the audio rule applied by _end
            return
        self._rejections.labels(reason=ended.kind, transport=self.transport).inc()
        if self._results_wait is not None:
            self._results_wait.cancel()

    def refuse_message(self, ended: SessionEnded) -> None:
        """The server could not take a message at all (too big, not valid WebSocket): end the stream with why."""
        self._expire(ended)

    def _rate_exceeded(self) -> SessionEnded:
        limit = self.settings.max_messages_per_second
        return SessionEnded(
            CloseCode.POLICY_VIOLATION,
            f"rate exceeded: over {limit} messages per second",
            kind=Kind.RATE,
            keep_audio=False,
        )

    def _audio_too_fast(self) -> SessionEnded:
        limits = self._limits
        return SessionEnded(
            CloseCode.POLICY_VIOLATION,
            f"audio too fast: over {limits.audio_speed:g}x real time on average "
            f"(after a burst of {limits.audio_burst_seconds:g} s)",
            kind=Kind.AUDIO_TOO_FAST,
            keep_audio=False,
        )

    def _on_start(self, request: StartRequest) -> None:
        if not self._start_allowed:
            raise SessionEnded(
                CloseCode.UNSUPPORTED_DATA, "the start message must come first, and only once", kind=Kind.MALFORMED
            )
        self._start_allowed = False
        for message in self._apply_start(request):
            self.outbox.put(message)

    def _apply_start(self, request: StartRequest) -> list[dict]:
        """The start's settings taken; returns what to tell the client: its warnings, then `ready`."""
        self.mode = request.mode or self.settings.default_mode
        self.options, warnings = self.context.options.resolve(request)
        self.wait_for_results = request.wait_for_results
        if request.partials is not None:
            self._partials_on = request.partials
        # The stable text is translated as it grows (stages/partial_translate.py) when partials come at all and
        # there is something to translate into.
        interim_translations = bool(request.translate_partials and self._partials_on and self.mode != "single")
        self._translate_partials = interim_translations and bool(self.options.target_languages)
        # In a room, into its listeners' languages too, whether or not the speaker reads any translation itself.
        self._translate_room_partials = interim_translations and request.room is not None
        if self.mode == "batch":
            self._start_batch()
        if request.room is not None:
            self._join_room(request.room)
        self._client_rate_hz = request.sample_rate_hz
        self._limits.set_audio_rate(self._client_rate_hz * SAMPLE_WIDTH_BYTES)
        if request.sample_rate_hz != PIPELINE_SAMPLE_RATE_HZ:
            self._resampler = soxr.ResampleStream(request.sample_rate_hz, PIPELINE_SAMPLE_RATE_HZ, 1, dtype="int16")
        return [*warnings, messages.ready(
            self.mode, request.sample_rate_hz, self.options, self._limits, self._max_seconds,
            partials=self._partials_on and self.mode != "single", translate_partials=self._translate_partials,
        )]

    # -- resuming (docs/protocol.md, "Resuming a session") ---------------------------------------------------

    def _on_resume(self, request: ResumeRequest) -> None:
        """Instead of a start: this socket takes up the session the token names. The token is checked first; then the
        session is that one (its id, its start time), its trail is read back from the bus, and until then what the
        client sends and the results that arrive are held."""
        tokens, read_trail = self.context.resume_tokens, self.context.read_trail
        if not self._start_allowed:
            raise SessionEnded(
                CloseCode.UNSUPPORTED_DATA, "resume must be the first message, instead of start", kind=Kind.MALFORMED
            )
        if tokens is None or read_trail is None:
            raise SessionEnded(CloseCode.UNSUPPORTED_DATA, "this server does not resume sessions", kind=Kind.MALFORMED)
        try:
            grant = tokens.verify(request.resume_token, request.correlation_id, self.principal)
        except ResumeRefused as refused:
            raise SessionEnded(
                CloseCode.POLICY_VIOLATION, str(refused), kind=Kind.RESUME_REFUSED, keep_audio=False
            ) from None
        self._start_allowed = False
        results = self.context.results
        results.unregister(self.correlation_id, self)
        previous = results.listener(grant.correlation_id)  # the session itself, when its socket dropped on this process
        self.correlation_id = grant.correlation_id
        results.register(self.correlation_id, self)
        # Its limits (MAX_SESSION_SECONDS) count from when the session started, not from this socket.
        self._started_unix = grant.started_at
        self._started_at = self._loop.time() - max(0.0, time.time() - grant.started_at)
        self._held_audio = []
        self._held_results = []
        start_messages = self._apply_start(request.start)
        self._resuming = asyncio.ensure_future(self._rebuild(request, read_trail, start_messages, previous))

    async def _rebuild(self, request: ResumeRequest, read_trail: Callable, start_messages: list[dict],
                       previous: object) -> None:
        try:
            await self._take_up(request, read_trail, start_messages, previous)
        except Exception:  # a bug must end this session clearly, not leave it holding what the client sends
            log.exception("session %s: resume failed", self.correlation_id)
            self._expire(SessionEnded(CloseCode.INTERNAL_ERROR, "internal error", kind=Kind.INTERNAL))

    async def _take_up(self, request: ResumeRequest, read_trail: Callable, start_messages: list[dict],
                       previous: object) -> None:
        try:
            if isinstance(previous, Session) and previous is not self:
                # Its socket dropped but it is still publishing what it held: the trail must include that.
                await asyncio.wait_for(previous._finished.wait(), self.settings.results_timeout_seconds)
            trail = await read_trail(self.correlation_id, self._started_unix)
            if trail.reply_partition is not None:
                # Results still coming for what its gateway published come back where that gateway routed them: read
                # there too (text from history back, so what came since the trail was read is not missed).
                await self.context.results.adopt(self.correlation_id, self, trail.reply_partition)
        except (BusError, ContractError, TimeoutError) as failure:
            log.warning("session %s: could not read its trail back to resume: %s", self.correlation_id, failure)
            self._expire(SessionEnded(
                CloseCode.TRY_AGAIN_LATER, "could not read the session back from the message bus; try again later",
                kind=Kind.PIPELINE_UNAVAILABLE, details={"retry_after_ms": 2000},
            ))
            return
        if self.state is not _STREAMING:
            return
        published_ms = trail.published_ms
        self._next_segment = max(self._next_segment, trail.next_index)
        self._abandoned.update(trail.withdrawn())
        if isinstance(previous, Session):
            # Its own withdrawals and what it gave its client, whether or not the bus still shows them (the in-memory
            # bus trims what every reader has passed).
            self._abandoned.update(previous._abandoned)
            self.ledger.carry_over(previous.ledger)
        for segment in trail.live_segments():
            self.ledger.segment_cut(segment.index)
        # The audio sent from now on begins at audio_ms; what of it was published already is skipped.
        self._offset_ms = max(request.audio_ms, published_ms)
        skip_ms = self._offset_ms - request.audio_ms
        self._skip_bytes = skip_ms * self._client_rate_hz // 1000 * SAMPLE_WIDTH_BYTES
        held, self._held_results = self._held_results or [], None
        had = trail.had_by_client(request.received)
        replay = [event for event in trail.results if event.event_id not in had]
        tokens = self.context.resume_tokens
        self.outbox.put(messages.resumed(
            self.correlation_id, tokens.issue(self.correlation_id, self.principal, self._started_unix),
            next_segment=self._next_segment, published_ms=published_ms, audio_ms=self._offset_ms, replayed=len(replay),
        ))
        metrics = self.context.metrics
        metrics.resumes.inc()
        metrics.replayed_results.inc(len(replay))
        for message in start_messages:
            self.outbox.put(message)
        for event in trail.results:
            if event.event_id in had:
                # The client has it: counted toward the session's completeness, not sent again.
                if self.ledger.first_time(event.event_id):
                    self.ledger.record(event.payload)
            else:
                self.on_result(event)
        for event in held:
            self.on_result(event)
        if request.audio_ms > published_ms:
            self.outbox.put(messages.warning(
                Kind.AUDIO_LOST,
                f"audio from {published_ms} ms to {request.audio_ms} ms reached a gateway that ended before it was "
                "published: it was not translated (send it again from published_ms to keep it)",
                start_ms=published_ms, end_ms=request.audio_ms,
            ))
        held, self._held_audio = self._held_audio or [], None
        try:
            for frame in held:
                if frame is _DONE:
                    return self._done()
                self._on_audio(frame)
        except SessionEnded as ended:
            self._expire(ended)

    def _join_room(self, room: str) -> None:
        """Speaks into `room`: its results go to the room's listeners too, it hears the others in its own language,
        and it may talk as long as a talk lasts (ROOM_SPEAKER_MAX_SECONDS)."""
        rooms = self.context.rooms
        if rooms is None:
            raise SessionEnded(CloseCode.UNSUPPORTED_DATA, "this server has no rooms", kind=Kind.MALFORMED)
        if not (self.principal.may_enter(room) and self.principal.may_act_as(Role.SPEAKER)):
            raise SessionEnded(
                CloseCode.POLICY_VIOLATION,
                "this credential is for another room" if not self.principal.may_enter(room)
                else f"this credential allows the {self.principal.role} role only, not speaker",
                kind=Kind.FORBIDDEN,
            )
        rooms.join_speaker(self, room)
        self.room = room
        self.ledger.want(self.options.target_languages, synthesize=self.options.synthesize)
        if self.mode != "batch":
            self._max_seconds = self.settings.room_speaker_max_seconds

    # -- as a room's member (rooms/member.py): a speaker hears the others in its own language ---------------

    @property
    def member_id(self) -> str:
        return self.correlation_id

    @property
    def language(self) -> str | None:
        return self.options.source_language

    @property
    def voice(self) -> bool:
        return self.options.synthesize

    @property
    def partials(self) -> bool:
        # A speaker that takes its own partials is shown the others' too (conversation mode); its own reach it
        # directly. Read when it joins its room (the start message has set it by then).
        return self._partials_on

    def deliver(self, shared: SharedMessage, *, audio: bool, interim: bool = False) -> None:
        self.outbox.put_shared(shared)

    def audience_changed(self, message: dict) -> None:
        self.outbox.put(message)

    def _start_batch(self) -> None:
        """A recording sent faster than real time: its own pool of sessions, its own audio speed, and a limit on
        the audio it may carry instead of on the wall-clock time a live talk may last."""
        settings = self.settings
        if not self.context.batch_slots.try_acquire():
            raise SessionEnded(
                CloseCode.TRY_AGAIN_LATER,
                f"every batch session is taken ({settings.max_batch_sessions}); try again later, or stream in real time",
                kind=Kind.CAPACITY,
            )
        self._batch_slot = True
        self._limits.audio_speed = settings.max_batch_audio_speed
        self._max_seconds = settings.max_batch_audio_seconds

    def _on_audio(self, data: bytes) -> None:
        size = len(data)
        if size > self._max_chunk_bytes:
            raise frame_too_large(size, self._max_chunk_bytes)
        if size % 2:
            raise SessionEnded(
                CloseCode.INVALID_PAYLOAD,
                f"frame of {size} bytes is not whole PCM16 samples (2 bytes each)",
                kind=Kind.NOT_WHOLE_SAMPLES,
            )
        self._start_allowed = False
        if self._held_audio is not None:
            self._held_audio.append(data)  # taken once the trail is read back (bounded by the audio-speed limit)
            return
        self._received_bytes += size
        if self._skip_bytes:
            skipped = min(self._skip_bytes, size)
            self._skip_bytes -= skipped
            data = data[skipped:]
            if not data:
                return
        if self._resampler is not None:
            data = self._resampler.resample_chunk(np.frombuffer(data, dtype="<i2")).tobytes()
        if self.mode == "single":
            if self._buffer.size + len(data) > self.settings.max_buffer_bytes:
                raise SessionEnded(
                    CloseCode.MESSAGE_TOO_BIG,
                    f"buffer full: over {self.settings.max_buffer_bytes} bytes of audio in one event "
                    "(stream in live mode for longer audio)",
                    kind=Kind.BUFFER_FULL,
                    keep_audio=False,
                )
            self._buffer.append(data)
        else:
            if self.mode == "batch" and self._received_bytes > self._max_batch_bytes():
                raise SessionEnded(
                    CloseCode.POLICY_VIOLATION,
                    f"batch audio longer than {self.settings.max_batch_audio_seconds:g} s",
                    kind=Kind.SESSION_TOO_LONG,
                )
            if self._endpointer is None:
                self._endpointer = self._new_endpointer()
            for utterance in self._endpointer.feed(data):
                self._on_utterance(utterance, is_last=False)
            if self._speculation is not None and self._speculation.finished_sentence:
                self._end_early_if_paused(self._speculation)

    def _new_endpointer(self) -> Endpointer:
        endpointer = self.context.new_endpointer(recording=True) if self.mode == "batch" else self.context.new_endpointer()
        if not self._partials_on:
            return endpointer  # partials off: not one call more per frame
        return WindowingEndpointer(
            endpointer, interval_ms=self.settings.partial_interval_ms, correlation_id=self.correlation_id,
            service=self.context.instance_id, options=self._window_options,
            translate=self._translate_partials or self._translate_room_partials,
            index_of_open=self._index_of_open, publish=self.context.publish, offset_ms=self._offset_ms,
        )

    def _utterance_options(self) -> SessionOptions:
        """The options an utterance is published with: in a room, each goes into the languages its
        members read now."""
        return self.options if self.room is None else self.context.rooms.options_for(self.room, self.options)

    def _window_options(self) -> SessionOptions:
        """The options the open utterance's windows go with: its partials are translated into the speaker's own
        targets (when it asked for partial translations) and, in a room, the languages members read partials in."""
        if self.room is None:
            return self.options
        own = self.options.target_languages if self._translate_partials else ()
        return self.context.rooms.interim_options_for(self.room, self.options, own)

    def _index_of_open(self) -> int:
        return self._speculation.index if self._speculation is not None else self._next_segment

    def _max_batch_bytes(self) -> float:
        return self.settings.max_batch_audio_seconds * self._client_rate_hz * SAMPLE_WIDTH_BYTES

    # -- publishing --------------------------------------------------------------------------------

    def _event(self, payload: SpeechSegmentPayload | AudioInputPayload, started_at) -> Event:
        instance_id = self.context.instance_id
        return Event(
            payload=payload,
            correlation_id=self.correlation_id,
            source_service=instance_id,
            # The gateway's hop starts the timing trail, so the wait before ASR shows as bus time.
            timings=(StageTiming("gateway", instance_id, started_at, utc_now()),),
        )

    def _on_utterance(self, utterance: Utterance, *, is_last: bool) -> None:
        """An endpointer's output: an utterance ended, offered early (tentative) or withdrawn (gateway/speculation.py)."""
        speculation = self._speculation
        kind = utterance.kind
        if kind == FINAL:
            if speculation is not None and speculation.start_ms == utterance.start_ms:
                self._commit(speculation)
                return
            if speculation is not None:
                self._withdraw(speculation)
            self._publish_segment(utterance, is_last=is_last)
        elif kind == TENTATIVE:
            if self.room is not None:
                # A room's listeners get results from the bus on every gateway, before any commit: a speculation
                # withdrawn there could not be taken back. Room speakers' utterances are cut at the full pause.
                return
            load = self.context.load
            if load is not None and not load.speculation_welcome():
                self.context.metrics.speculations.labels(outcome="skipped_busy").inc()
                return
            if speculation is not None:
                self._withdraw(speculation)
            if 0 < self.settings.speculate_max_utterance_ms < utterance.end_ms - utterance.start_ms:
                self.context.metrics.speculations.labels(outcome="skipped_long").inc()
                return
            index = self._next_segment
            self._next_segment += 1
            event = self._segment_event(utterance, index, is_last=False)
            self._speculation = Speculation(index, utterance.start_ms, utterance.end_ms, event)
            self._track(self._publish(event))
        elif speculation is not None:
            self._withdraw(speculation)

    def _end_early_if_paused(self, speculation: Speculation) -> None:
        """A finished sentence, and a pause longer than an in-sentence one: shown now (gateway/speculation.py)."""
        endpointer = self._endpointer
        if (
            endpointer is not None
            and endpointer.pause_ms >= self.settings.early_end_pause_ms
            and endpointer.commit_tentative()
        ):
            self._commit(speculation, early=True)

    def _withdraw(self, speculation: Speculation) -> None:
        self._speculation = None
        self._abandoned.add(speculation.index)
        self.context.metrics.speculations.labels(outcome="withdrawn").inc()

    def _commit(self, speculation: Speculation, *, early: bool = False) -> None:
        """The pause held (or the transcript showed a finished sentence): the speculation becomes the segment."""
        self._speculation = None
        self.context.metrics.speculations.labels(outcome="committed_early" if early else "committed").inc()
        offset = self._offset_ms
        self._announce(
            speculation.index, speculation.start_ms + offset, speculation.end_ms + offset, speculation.event.event_id
        )
        for event in speculation.held:
            self._deliver(event)

    def _segment_event(self, utterance: Utterance, index: int, *, is_last: bool) -> Event:
        return self._event(
            SpeechSegmentPayload(
                audio_bytes=wrap_pcm16(utterance.pcm, PIPELINE_SAMPLE_RATE_HZ),
                sample_rate_hz=PIPELINE_SAMPLE_RATE_HZ,
                segment_index=index,
                start_ms=utterance.start_ms + self._offset_ms,
                end_ms=utterance.end_ms + self._offset_ms,
                options=self._utterance_options(),
                is_last=is_last,
            ),
            utc_now(),
        )

    def _announce(self, index: int, start_ms: int, end_ms: int, event_id: str) -> None:
        self.context.observer.segment_cut(self, index)
        self._segment_ids.append(event_id)
        self.ledger.segment_cut(index)
        self.context.metrics.segments.inc()
        self.outbox.put(messages.segment(index, start_ms, end_ms, event_id))

    def _track(self, publishing) -> None:
        task = asyncio.create_task(publishing)
        self._publishes.add(task)
        task.add_done_callback(self._publishes.discard)

    def _publish_segment(self, utterance: Utterance, *, is_last: bool) -> None:
        index = self._next_segment
        self._next_segment += 1
        event = self._segment_event(utterance, index, is_last=is_last)
        self._announce(index, utterance.start_ms + self._offset_ms, utterance.end_ms + self._offset_ms, event.event_id)
        self._track(self._publish(event))

    async def _publish(self, event: Event) -> None:
        try:
            await self.context.publish(event)
        except (BusError, ContractError) as failure:
            ended = self._publish_failed(failure)
            self._expire(ended)
            raise ended from failure

    def _single_event(self) -> Event:
        return self._event(
            AudioInputPayload(
                audio_bytes=wrap_pcm16(self._buffer.joined(), PIPELINE_SAMPLE_RATE_HZ),
                sample_rate_hz=PIPELINE_SAMPLE_RATE_HZ,
                language_hint=self.options.source_language,
                options=self.options,
            ),
            utc_now(),
        )

    def _resampler_tail(self) -> bytes:
        """The few samples a streaming resampler holds back until it is told the stream ended."""
        if self._resampler is None:
            return b""
        tail = self._resampler.resample_chunk(np.zeros(0, dtype="<i2"), last=True).tobytes()
        self._resampler = None
        return tail

    def _flush_segments(self) -> None:
        tail = self._resampler_tail()
        if self._endpointer is not None:
            utterances = self._endpointer.feed(tail) + self._endpointer.flush()
            for position, utterance in enumerate(utterances):
                self._on_utterance(utterance, is_last=position == len(utterances) - 1)

    async def _await_publishes(self) -> None:
        results = await asyncio.gather(*self._publishes, return_exceptions=True)
        for result in results:
            if isinstance(result, SessionEnded):
                raise result
            if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
                raise self._publish_failed(result)

    async def _publish_single(self) -> str | None:
        """Single mode: the buffered audio as one event; its id, or None when nothing was held."""
        self._buffer.append(self._resampler_tail())
        if not self._buffer.size:
            return None
        event = self._single_event()
        try:
            await self.context.publish(event)
        except (BusError, ContractError) as failure:
            raise self._publish_failed(failure) from failure
        self._buffer.clear()
        return event.event_id

    async def _publish_remaining(self) -> None:
        """What a person said is not thrown away: publish whatever audio is still held."""
        try:
            if self.mode == "single":
                await self._publish_single()
            else:
                self._flush_segments()
                await self._await_publishes()
        except (BusError, ContractError, SessionEnded) as failure:
            log.warning("session %s: audio held at its end was not published: %s", self.correlation_id, failure)

    # -- ending ------------------------------------------------------------------------------------

    async def _drain(self) -> None:
        if self._received_bytes == 0 and self._resuming is None:  # a resumed session may have said all before
            raise SessionEnded(
                CloseCode.UNSUPPORTED_DATA, "empty stream: done arrived before any audio", kind=Kind.EMPTY_STREAM
            )
        if self.mode == "single":
            self.ledger.expect_segments_from_stage()
            event_id = await self._publish_single()
            event_ids = [event_id] if event_id else []
        else:
            self._flush_segments()
            await self._await_publishes()
            event_ids = self._segment_ids
        self.ledger.stream_ended()
        self.outbox.put(
            messages.ack(
                self.correlation_id, list(event_ids), live=self.mode != "single", received_bytes=self._received_bytes,
                segments=self._next_segment if self.mode != "single" else None,
            )
        )
        complete = True
        if self.wait_for_results and not self._unreachable:
            self._results_wait = asyncio.ensure_future(self.ledger.wait_complete(self.settings.results_timeout_seconds))
            try:
                complete = await self._results_wait
            except asyncio.CancelledError:
                if not self._unreachable:
                    raise
                complete = False
        self.outbox.put(
            messages.summary(
                self.correlation_id,
                complete=complete,
                segments=self.ledger.segment_count,
                counts=self.ledger.counts,
                missing=self.ledger.missing() if self.wait_for_results else [],
            )
        )
        await self.outbox.close(CloseCode.NORMAL)

    async def _end(self, ended: SessionEnded) -> None:
        self.state = SessionState.ENDING
        if self.ended is None:  # a reader that stopped reading is already ended (slow_reader)
            self.ended = ended
        self._rejections.labels(reason=ended.kind, transport=self.transport).inc()
        if ended.keep_audio and ended.code != CloseCode.INTERNAL_ERROR:
            await self._publish_remaining()
        self.outbox.put(messages.error(ended))
        await self.outbox.close(ended.code)

    def _publish_failed(self, failure: BaseException) -> SessionEnded:
        # The client reads that its audio did not reach the pipeline; the bus's own words go to the log.
        log.warning("session %s: publish failed: %s", self.correlation_id, failure)
        return SessionEnded(
            CloseCode.INTERNAL_ERROR,
            "could not publish audio: the message bus did not take it",
            kind=Kind.PUBLISH_FAILED,
        )

    # -- results (called by the gateway's ResultRouter) ----------------------------------------------

    def on_result(self, event: Event) -> None:
        if self._held_results is not None:
            if type(event.payload) is not PartialTranscriptPayload:  # a partial is superseded anyway
                self._held_results.append(event)  # resuming: after the results read back
            return
        self.context.observer.result_routed(self, event)
        payload = event.payload
        if type(payload) is PartialTranscriptPayload:
            self._on_partial(payload)
            return
        if type(payload) is PartialTranslationPayload:
            self._on_partial_translation(payload)
            return
        index = payload.segment_index
        if index in self._abandoned:
            return  # a withdrawn speculation's: the utterance went on, and comes again under another index
        speculation = self._speculation
        if speculation is not None and index == speculation.index:
            speculation.held.append(event)
            if (
                self.settings.early_end_on_sentence
                and isinstance(payload, TextRecognizedPayload)
                and ends_sentence(payload.text, payload.language)
            ):
                speculation.finished_sentence = True
                self._end_early_if_paused(speculation)
            return
        self._deliver(event)

    def _on_partial(self, payload: PartialTranscriptPayload) -> None:
        if self.state is SessionState.CLOSED or not self._partials.accept(payload):
            return
        self.context.metrics.results_sent.labels(type="partial").inc()
        self.outbox.put(messages.partial(payload))

    def _on_partial_translation(self, payload: PartialTranslationPayload) -> None:
        if (
            self.state is SessionState.CLOSED
            or not self._translate_partials
            or payload.target_language not in self.options.target_languages  # a room's language, not its own
            # Matched by start_ms, as partials are: its segment_index may be a withdrawn speculation's.
            or not self._partials.accept_translation(payload)
        ):
            return
        self.context.metrics.results_sent.labels(type="partial_translation").inc()
        self.outbox.put(messages.partial_translation(payload))

    def _deliver(self, event: Event) -> None:
        if not self.ledger.first_time(event.event_id):
            return
        payload = event.payload
        if self.room is not None and not self.ledger.wanted(payload):
            return  # a language the room's listeners read, not one this speaker asked for
        latency_ms = self.ledger.latency_ms(payload.segment_index)  # before record: an answered segment is forgotten
        self.ledger.record(payload)
        revised = False
        if isinstance(payload, TextRecognizedPayload):
            revised = self._partials.finished(payload)
            if revised:
                self.context.metrics.partials_revised.inc()
        message = messages.result(event, latency_ms, revised=revised)
        if message is not None:
            if message["type"] == "transcript" and self.mode == "live" and self.context.load is not None:
                self.context.load.observe(latency_ms)
            self.ledger.sent(message["type"])
            self.context.metrics.results_sent.labels(type=message["type"]).inc()
            self.outbox.put(message)
