"""RFC 6455 framing for the server side of /ws/audio, sans I/O: bytes in, whole messages out; messages in, bytes out.

Only what a server that negotiates no extension and no subprotocol needs: client frames must be masked and have
no RSV bits; fragmented messages are joined; control frames may arrive between fragments. It exists because the
per-message path of a general WebSocket stack (parse, queue, wake a task, resume a coroutine chain) cost several
times the budget of 1,000 live streams on one core (docs/benchmarks/gateway-capacity.md).
What a live client sends 50 times a second, whole masked binary frames, has a fast path (WholeBinaryFrame): one
frame per read when the loop keeps up, several back to back when it falls behind and TCP joins them.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

try:  # websockets' C helper (a dependency already); the pure-Python one is ~20x slower on a 640-byte frame
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover - wheels ship the extension
    from websockets.utils import apply_mask

CONTINUATION = 0x0
TEXT = 0x1
BINARY = 0x2
CLOSE = 0x8
PING = 0x9
PONG = 0xA
_DATA_OPCODES = (CONTINUATION, TEXT, BINARY)
_CONTROL_OPCODES = (CLOSE, PING, PONG)
MAX_CONTROL_PAYLOAD = 125

# Close codes a peer may put on the wire (RFC 6455 section 7.4); 1005, 1006 and 1015 are only ever reported locally.
_SENDABLE_CLOSE_CODES = frozenset({1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014})

_U16 = struct.Struct("!H")
_U64 = struct.Struct("!Q")


class ProtocolError(Exception):
    """The peer broke RFC 6455; the connection must close with 1002 (or 1007 for text that is not UTF-8)."""

    def __init__(self, reason: str, code: int = 1002):
        super().__init__(reason)
        self.reason = reason
        self.code = code
        # Messages completed before the violation in the same read: still the client's (the audio rule keeps them).
        self.messages: list[tuple[int, bytes]] = []


class WholeBinaryFrame:
    """The fast path: the payload of one whole, final, masked binary frame within the limit, or None; or, from
    `payloads`, those of several such frames back to back."""

    __slots__ = ("max_message_bytes")


    def __init__(self, max_message_bytes: int):
        self.max_message_bytes = max_message_bytes

    def payload(self, data: bytes) -> bytes | None:
        if len(data) < 6 or data[0] != 0x82:
            return None
        second = data[1]
        if second == 0xFE:  # masked, 16-bit length: 126..65535 bytes (a 20 ms frame is 640)
            length = len(data) - 8
            if (data[2] << 8 | data[3]) != length or length < 126 or length > self.max_message_bytes:
                return None
            return apply_mask(data[8:], data[4:8])
        if 0x80 < second < 0xFE:  # masked, 7-bit length
            length = len(data) - 6
            if second & 0x7F != length or length > self.max_message_bytes:
                return None
            return apply_mask(data[6:], data[2:6])
        return None

    def payloads(self, data: bytes) -> list[bytes] | None:
        """Several whole, final, masked binary frames within the limit back to back, and nothing else: what a
        live client's reads become when the loop is behind. None if the bytes are anything else."""
        end = len(data)
        limit = self.max_message_bytes
        found = []
        offset = 0
        while offset < end:
            if end - offset < 6 or data[offset] != 0x82:
                return None
            second = data[offset + 1]
            if second == 0xFE:
                if end - offset < 8:
                    return None
                length = data[offset + 2] << 8 | data[offset + 3]
                head = offset + 8
                if length < 126:
                    return None
            elif 0x80 < second < 0xFE:
                length = second & 0x7F
                head = offset + 6
            else:
                return None
            tail = head + length
            if length > limit or tail > end:
                return None
            found.append(apply_mask(data[head:tail], data[head - 4 : head]))
            offset = tail
        return found if len(found) > 1 else None


def _not_at_boundary(data: bytes) -> None:
    return None


# Not opcodes on the wire: `feed` reports a message over the limit as (OVERSIZE, b"") and skips its bytes, and
# each frame of a message still incomplete as (FRAGMENT, b""), so limits on frames a second count them too.
OVERSIZE = 0x100
FRAGMENT = 0x101
_READ, _SKIP, _OVERSIZE = 0, 1, 2


class FrameReader:
    """Incremental parser of client frames. `feed` returns the messages completed by the bytes it was given, as
    (opcode, payload) pairs: TEXT/BINARY with the whole (joined, unmasked) message, or a control frame.

    A message longer than `max_message_bytes` is reported as (OVERSIZE, b"") as soon as a header says so, and
    its bytes are skipped without being buffered (`oversize_bytes` says how long it claimed to be), so a close
    frame that follows is still read. A ProtocolError leaves the reader unusable: the connection is failing."""

    # Slots: 1,000 streams' objects are touched 50 times a second each; attributes in the object itself rather than
    # a dict keep each frame to fewer cache lines (docs/benchmarks/gateway-capacity.md).
    __slots__ = (
        "_buffer", "_discarding", "_fragment_bytes", "_fragment_opcode", "_fragments", "_skip",
        "_whole_frame_payload", "_whole_frame_payloads", "max_message_bytes", "oversize_bytes",
        "whole_binary_frame", "whole_binary_frames"
    )


    def __init__(self, max_message_bytes: int):
        self.max_message_bytes = max_message_bytes
        self.oversize_bytes = 0
        self._buffer = b""
        self._fragments: list[bytes] = []
        self._fragment_opcode = 0
        self._fragment_bytes = 0
        self._skip = 0  # payload bytes of an oversize frame still to discard
        self._discarding = False  # the rest of an oversize fragmented message is discarded up to its last frame
        fast = WholeBinaryFrame(max_message_bytes)
        self._whole_frame_payload = fast.payload
        self._whole_frame_payloads = fast.payloads
        # whole_binary_frame(data): the payload when `data` is exactly one whole, final, masked binary frame
        # within the limit, read at a message boundary: what a live client sends 50 times a second, parsed
        # without the general loop. whole_binary_frames(data): the same for several such frames back to back.
        # None otherwise, and then `feed` must be called with the same bytes. Attributes, not methods: away from a
        # boundary they are a function that declines everything, so the check costs nothing per frame.
        self.whole_binary_frame: Callable[[bytes], bytes | None] = self._whole_frame_payload
        self.whole_binary_frames: Callable[[bytes], list[bytes] | None] = self._whole_frame_payloads

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        if self._skip:
            skipped = min(self._skip, len(data))
            self._skip -= skipped
            data = data[skipped:]
        buffer = self._buffer + data if self._buffer else data
        messages: list[tuple[int, bytes]] = []
        try:
            self._parse(buffer, messages)
        except ProtocolError as broken:
            broken.messages = messages
            raise
        return messages

    def _parse(self, buffer: bytes, messages: list[tuple[int, bytes]]) -> None:
        offset = 0
        end = len(buffer)
        while end - offset >= 2:
            first = buffer[offset]
            second = buffer[offset + 1]
            length = second & 0x7F
            header = 6  # two bytes plus the mask key
            if length == 126:
                if end - offset < 4:
                    break
                length = _U16.unpack_from(buffer, offset + 2)[0]
                header = 8
                if length < 126:
                    raise ProtocolError("payload length not in its shortest form")
            elif length == 127:
                if end - offset < 10:
                    break
                length = _U64.unpack_from(buffer, offset + 2)[0]
                header = 14
                if length < 1 << 16 or length >> 63:
                    raise ProtocolError("64-bit payload length out of range or not in its shortest form")
            opcode = first & 0x0F
            verdict = self._check_header(first, second, opcode, length)
            if verdict:
                if verdict == _OVERSIZE:
                    messages.append((OVERSIZE, b""))
                    self._fragments = []
                    self._fragment_opcode = 0
                    self._fragment_bytes = 0
                # Skip this frame's payload unread; an oversize message's later fragments are skipped as they come.
                self._discarding = not first & 0x80
                available = end - offset - header
                if available < length:
                    self._skip = length - available
                    offset = end
                    break
                offset += header + length
                continue
            if end - offset < header + length:
                break
            mask = buffer[offset + header - 4 : offset + header]
            payload = apply_mask(buffer[offset + header : offset + header + length], mask) if length else b""
            offset += header + length
            if opcode >= CLOSE:
                messages.append((opcode, payload))
            elif first & 0x80:  # FIN
                if opcode == CONTINUATION:
                    self._fragments.append(payload)
                    messages.append((self._fragment_opcode, b"".join(self._fragments)))
                    self._fragments = []
                    self._fragment_opcode = 0
                    self._fragment_bytes = 0
                else:
                    messages.append((opcode, payload))
            else:
                if opcode != CONTINUATION:
                    self._fragment_opcode = opcode
                if payload:  # empty fragments add nothing: a flood of them must not grow the list
                    self._fragments.append(payload)
                self._fragment_bytes += length
                messages.append((FRAGMENT, b""))
        self._buffer = buffer[offset:] if offset < end else b""
        at_boundary = not (self._buffer or self._skip or self._fragment_opcode or self._discarding)
        self.whole_binary_frame = self._whole_frame_payload if at_boundary else _not_at_boundary
        self.whole_binary_frames = self._whole_frame_payloads if at_boundary else _not_at_boundary

    def _check_header(self, first: int, second: int, opcode: int, length: int) -> int:
        """_READ, _SKIP (a later fragment of an oversize message) or _OVERSIZE; raises ProtocolError."""
        if first & 0x70:
            raise ProtocolError("reserved bits set: no extension was negotiated")
        if not second & 0x80:
            raise ProtocolError("client frames must be masked")
        if opcode in _CONTROL_OPCODES:
            if not first & 0x80:
                raise ProtocolError("control frames must not be fragmented")
            if length > MAX_CONTROL_PAYLOAD:
                raise ProtocolError("control frame payload over 125 bytes")
            return _READ
        if opcode not in _DATA_OPCODES:
            raise ProtocolError(f"unknown opcode {opcode:#x}")
        if opcode == CONTINUATION:
            if not self._fragment_opcode and not self._discarding:
                raise ProtocolError("continuation frame without a message to continue")
            if self._discarding:
                return _SKIP
            size = self._fragment_bytes + length
        else:
            if self._fragment_opcode or self._discarding:
                raise ProtocolError("new message before the fragmented one ended")
            size = length
        if size > self.max_message_bytes:
            self.oversize_bytes = size
            return _OVERSIZE
        return _READ


def parse_close(payload: bytes) -> tuple[int, str]:
    """The code and reason of a close frame (1005 when it carries none)."""
    if not payload:
        return 1005, ""
    if len(payload) == 1:
        raise ProtocolError("close frame with a one-byte payload")
    code = _U16.unpack_from(payload)[0]
    if code not in _SENDABLE_CLOSE_CODES and not 3000 <= code <= 4999:
        raise ProtocolError(f"invalid close code {code}")
    try:
        return code, payload[2:].decode()
    except UnicodeDecodeError:
        raise ProtocolError("close reason is not UTF-8", code=1007) from None


def encode_frame(opcode: int, payload: bytes) -> bytes:
    """One unfragmented, unmasked server frame."""
    length = len(payload)
    if length < 126:
        head = bytes((0x80 | opcode, length))
    elif length < 1 << 16:
        head = bytes((0x80 | opcode, 126)) + _U16.pack(length)
    else:
        head = bytes((0x80 | opcode, 127)) + _U64.pack(length)
    return head + payload


def encode_close(code: int, reason: str = "") -> bytes:
    # A control frame holds 125 bytes: two for the code, the reason cut to fit (on a character boundary).
    encoded = reason.encode()[: MAX_CONTROL_PAYLOAD - 2].decode(errors="ignore").encode()
    return encode_frame(CLOSE, _U16.pack(code) + encoded)
