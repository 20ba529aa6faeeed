"""Fuzzes one WebSocket connection (gateway/websocket/connection.py), sans I/O, with client byte streams.

A `WebSocketConnection` is driven with the frame streams of bench/fuzz_frames.py (start messages from
bench/fuzz_start_message.py in some text frames), cut into reads, through a recording transport and a handler
that closes as the audio session does (close_codes.py): 1003 for text `parse_text_message` refuses, 1007 for
audio that is not whole samples, 1009 for a message over the limit, and the connection's code when the peer
breaks RFC 6455, each after the read that caused it, as the session's task would. What must hold:

- `receive_data` never raises;
- every close frame sent carries a documented code (CloseCode) or echoes the peer's own (RFC 6455 5.5.1);
  at most one close frame is sent, nothing after it, and nothing at all once the TCP connection is closed;
- every write is a well-formed, unmasked, final server frame (read back with the websockets library);
- the handler hears no message after the peer's close frame or after the peer broke the protocol.

    .venv/bin/python bench/fuzz_connection.py [--cases 1000000] [--seconds S] [--seed 0]
"""

from __future__ import annotations

import json
import random
import struct
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from websockets.frames import Frame, Opcode  # noqa: E402
from websockets.streams import StreamReader  # noqa: E402

try:  # websockets' C helper, as frames.py uses it: the Python one would be most of a case's time
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover
    from websockets.utils import apply_mask

from babelstream.gateway.close_codes import CloseCode  # noqa: E402
from babelstream.gateway.errors import SessionEnded  # noqa: E402
from babelstream.gateway.requests import parse_text_message  # noqa: E402
from babelstream.gateway.websocket.connection import ConnectionClosed, State, WebSocketConnection  # noqa: E402
from babelstream.gateway.websocket.frames import TEXT  # noqa: E402
from bench.fuzz_frames import LIMITS, chunks, clean_stream, client_frame, cuts_for, mutate  # noqa: E402
from bench.fuzz_start_message import text_case  # noqa: E402
from bench.fuzzing import Broken, main, simpler_bytes, smaller_sequences  # noqa: E402

DOCUMENTED_CODES = frozenset(int(code) for code in CloseCode)


class RecordingTransport:
    def __init__(self, writable: bool):
        self.writes: list[bytes] = []
        self.closed = False
        self.close_timer = False
        self._writable = writable

    def write(self, data: bytes) -> None:
        if self.closed:
            raise Broken("wrote after the TCP connection was closed", repr(data[:40]))
        self.writes.append(data)

    def close_now(self) -> None:
        self.closed = True

    def close_after_timeout(self) -> None:
        self.close_timer = True

    def writable(self) -> bool:
        return self._writable

    async def drain(self) -> None:
        return None


class RecordingHandler:
    """Records what it hears; closes as the audio session would, once the read that caused it is over."""

    binary_sink = None

    def __init__(self) -> None:
        self.connection: WebSocketConnection | None = None
        self.heard_after_end = False
        self.ended = False  # the peer closed or broke the protocol: no message may follow
        self.peer_codes: list[int] = []
        self.pending_close: int | None = None

    def opened(self, connection: WebSocketConnection) -> None:
        self.connection = connection

    def _message(self) -> None:
        if self.ended:
            self.heard_after_end = True

    def binary(self, payload: bytes) -> None:
        self._message()
        if len(payload) % 2:
            self._close_later(CloseCode.INVALID_PAYLOAD)

    def text(self, text: str) -> None:
        self._message()
        try:
            parse_text_message(text)
        except SessionEnded as ended:
            self._close_later(ended.code)

    def frame_without_message(self) -> None:
        pass

    def message_too_big(self, size: int, limit: int) -> None:
        self._close_later(CloseCode.MESSAGE_TOO_BIG)

    def protocol_failed(self, code: int, reason: str) -> bool:
        self.ended = True
        self._close_later(code)
        return True

    def closed_by_peer(self, code: int) -> None:
        self.ended = True
        self.peer_codes.append(code)

    def disconnected(self) -> None:
        self.ended = True

    def shutdown(self) -> None:
        pass

    def _close_later(self, code: int) -> None:
        if self.pending_close is None:
            self.pending_close = int(code)

    def after_read(self) -> None:
        """What the session's task does next: say why, then close."""
        if self.pending_close is not None and self.connection is not None:
            code, self.pending_close = self.pending_close, None
            try:
                self.connection.send_text(json.dumps({"type": "error", "code": code}))
            except ConnectionClosed:
                pass
            self.connection.send_close(code)


def text_frame(rng: random.Random) -> bytes:
    payload = text_case(rng).encode("utf-8", errors="surrogatepass")[:70_000]
    key = rng.randbytes(4)
    length = len(payload)
    head = bytes((0x80 | TEXT, 0x80 | length)) if length < 126 else (
        bytes((0x80 | TEXT, 0x80 | 126)) + struct.pack("!H", length) if length < 1 << 16
        else bytes((0x80 | TEXT, 0x80 | 127)) + struct.pack("!Q", length))
    return head + key + apply_mask(payload, key)


def server_frames(data: bytes) -> list[Frame]:
    stream = StreamReader()
    stream.feed_data(data)
    stream.feed_eof()
    frames = []
    while stream.buffer:
        parser = Frame.parse(stream.read_exact, mask=False)
        try:
            next(parser)
        except StopIteration as done:
            frames.append(done.value)
        except Exception as error:  # noqa: BLE001 - websockets' verdict on our bytes
            raise Broken("the server wrote a malformed frame", f"{type(error).__name__}: {error}; {data[:40]!r}") from None
    return frames


class ConnectionTarget:
    name = "connection"
    bound = "the process's peak RSS (a connection holds what its FrameReader holds)"

    def generate(self, rng: random.Random) -> tuple[int, bytes, tuple[int, ...], bool]:
        limit = rng.choice(LIMITS)
        if rng.random() < 0.3:
            data = clean_stream(rng, limit)
        else:
            data = b"".join(text_frame(rng) if rng.random() < 0.2 else client_frame(rng, limit)
                            for _ in range(rng.randrange(1, 7)))
        if rng.random() < 0.2:
            data = mutate(rng, data)
        return limit, data, cuts_for(rng, len(data)), rng.random() < 0.9

    def check(self, case: tuple[int, bytes, tuple[int, ...], bool]) -> None:
        limit, data, cuts, writable = case
        handler = RecordingHandler()
        transport = RecordingTransport(writable)
        connection = WebSocketConnection(handler, transport, limit)
        handler.opened(connection)
        for read in chunks(data, cuts):
            connection.receive_data(read)
            handler.after_read()
            if connection.state is State.CLOSED:
                break
        if handler.heard_after_end:
            raise Broken("a message reached the handler after the peer closed or broke the protocol")
        frames = [frame for write in transport.writes for frame in server_frames(write)]
        closes = [index for index, frame in enumerate(frames) if frame.opcode is Opcode.CLOSE]
        if len(closes) > 1:
            raise Broken("more than one close frame sent", f"{len(closes)}")
        if closes and closes[0] != len(frames) - 1:
            raise Broken("a frame sent after the close frame", repr(frames[closes[0] + 1]))
        if closes:
            payload = frames[closes[0]].data
            if payload:
                code = struct.unpack("!H", payload[:2])[0]
                if code not in DOCUMENTED_CODES and code not in handler.peer_codes:
                    raise Broken("close code neither documented nor the peer's", str(code))
            elif not handler.peer_codes:
                raise Broken("close frame without a code, not answering the peer's")

    def shrink(self, case):
        limit, data, cuts, writable = case
        if cuts:
            for fewer in smaller_sequences(cuts):
                yield limit, data, fewer, writable
        for shorter in smaller_sequences(data):
            yield limit, shorter, tuple(cut for cut in cuts if cut < len(shorter)), writable
        for simpler in simpler_bytes(data):
            yield limit, simpler, cuts, writable

    def show(self, case) -> str:
        limit, data, cuts, writable = case
        shown = repr(data) if len(data) < 400 else f"{data[:200]!r} + ... ({len(data)} bytes)"
        return f"limit={limit}, data={shown}, cuts={cuts}, writable={writable}"


if __name__ == "__main__":
    main(ConnectionTarget, __doc__.splitlines()[0])
