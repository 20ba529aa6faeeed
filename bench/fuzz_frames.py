"""Fuzzes the RFC 6455 frame parser (gateway/websocket/frames.py) with client byte streams cut at random points.

Each case is a stream of frames (masked or not, reserved bits, every opcode, each length encoding, lengths
around the limit, headers that claim more than follows, 64-bit lengths up to 2^64 - 1), sometimes with bytes
flipped, inserted or deleted, and a message limit from 0 to 65,536. What must hold:

- `FrameReader.feed` returns messages or raises `ProtocolError`, nothing else;
- the messages (and the error, if any) are the same however the stream is cut into reads;
- no message it returns is over the limit (125 bytes for a control frame);
- the reader never holds more than one frame: its unparsed bytes stay under the limit (125 for a control frame) + a 14-byte header, and
  the fragments of an unfinished message under the limit;
- the fast path (`whole_binary_frame`, `whole_binary_frames`) answers only what `feed` would have answered:
  whenever it takes a read, `feed` on the same bytes, in the same state, gives exactly those binary messages;
- an independent parser agrees: the websockets library's `Frame.parse` (as tests/unit/test_websocket_frames.py
  uses it) reads the same frames, and when it refuses one (reserved bits, masking, opcode, control frames) so
  does ours. Where ours is stricter by design (a length not in its shortest form, fragments out of order) or a
  message is over the limit (ours skips it unread), the comparison stops at that point.

    .venv/bin/python bench/fuzz_frames.py [--cases 1000000] [--seconds S] [--seed 0]
"""

from __future__ import annotations

import random
import struct
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from websockets.exceptions import ProtocolError as WebSocketsProtocolError  # noqa: E402
from websockets.frames import Frame  # noqa: E402
from websockets.streams import StreamReader  # noqa: E402

try:  # websockets' C helper, as frames.py uses it: the Python one would be most of a case's time
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover
    from websockets.utils import apply_mask

from babelstream.gateway.websocket.frames import (  # noqa: E402
    BINARY,
    CLOSE,
    CONTINUATION,
    FRAGMENT,
    MAX_CONTROL_PAYLOAD,
    OVERSIZE,
    PING,
    PONG,
    TEXT,
    FrameReader,
    ProtocolError,
)
from bench.fuzzing import Broken, main, simpler_bytes, smaller_sequences  # noqa: E402

LIMITS = (0, 1, 125, 126, 127, 300, 1_000, 65_535, 65_536)
LARGEST_HEADER = 14  # two bytes, a 64-bit length, the mask key
_CLEAN_OPCODES = [BINARY] * 8 + [CONTINUATION] * 4 + [TEXT] * 2 + [PING, PONG, CLOSE]
_OPCODES = _CLEAN_OPCODES + [3, 7, 0xB, 0xF]


def random_length(rng: random.Random, limit: int) -> int:
    roll = rng.random()
    if roll < 0.55:
        return rng.randrange(12)
    if roll < 0.75:
        return rng.choice((124, 125, 126, 127, 128, 640, 1_280))
    if roll < 0.95:
        return max(0, limit + rng.randrange(-2, 3))
    return rng.randrange(70_000)


def client_frame(rng: random.Random, limit: int, clean: bool = False, opcode: int | None = None,
                 fin: bool | None = None) -> bytes:
    """One frame as a client (or an attacker) might write it; most are well formed, and all are when `clean`."""
    opcode = rng.choice(_CLEAN_OPCODES if clean else _OPCODES) if opcode is None else opcode
    fin = rng.random() < 0.8 if fin is None else fin
    rsv = rng.choice((0x40, 0x20, 0x10)) if rng.random() < 0.03 and not clean else 0
    masked = clean or rng.random() < 0.97
    length = random_length(rng, limit)
    if opcode >= CLOSE and (clean or rng.random() < 0.9):
        length = min(length, 125)
    payload = rng.randbytes(length)
    if opcode == CLOSE and rng.random() < 0.7:  # a code (valid, reserved or out of range) and a reason
        code = rng.choice((1000, 1001, 1002, 1003, 1005, 1006, 1009, 1015, 1016, 2999, 3000, 4999, 5000, 0))
        payload = struct.pack("!H", code) + rng.choice((b"", b"bye", "\u00e9t\u00e9".encode(), b"\xff\xfe", b"x" * 123))
        length = len(payload)
    claimed = length
    roll = rng.random()
    if opcode >= CLOSE and clean:
        fin = True
    elif roll < 0.03 and not clean:  # a header that claims far more than follows
        claimed = rng.choice((1 << 16, 1 << 31, (1 << 63) - 1, (1 << 64) - 1, length + 1))
    first = (0x80 if fin else 0) | rsv | opcode
    mask_bit = 0x80 if masked else 0
    shortest = clean or rng.random() < 0.95
    if claimed < 126 and shortest:
        head = bytes((first, mask_bit | claimed))
    elif claimed < 1 << 16 and (shortest or rng.random() < 0.5):
        head = bytes((first, mask_bit | 126)) + struct.pack("!H", claimed)
    else:
        head = bytes((first, mask_bit | 127)) + struct.pack("!Q", claimed)
    if not masked:
        return head + payload
    key = rng.randbytes(4)
    return head + key + apply_mask(payload, key)


def clean_stream(rng: random.Random, limit: int) -> bytes:
    """Well-formed frames in a valid order: messages, some in fragments with control frames between them."""
    frames = []
    open_message = False
    for _ in range(rng.randrange(1, 7)):
        if rng.random() < 0.25:
            frames.append(client_frame(rng, limit, True, rng.choice((PING, PONG, CLOSE))))
            continue
        fin = rng.random() < 0.6
        opcode = CONTINUATION if open_message else rng.choice((BINARY, BINARY, TEXT))
        frames.append(client_frame(rng, limit, True, opcode, fin))
        open_message = not fin
    return b"".join(frames)


def live_frames(rng: random.Random) -> bytes:
    """Whole masked binary frames back to back: what the fast path takes."""
    return b"".join(
        b"\x82" + bytes((0x80 | n,)) + key + apply_mask(rng.randbytes(n), key)
        if n < 126 else b"\x82\xfe" + struct.pack("!H", n) + key + apply_mask(rng.randbytes(n), key)
        for n, key in ((rng.choice((0, 2, 125, 126, 640, 1_280)), rng.randbytes(4)) for _ in range(rng.randrange(1, 4)))
    )


def mutate(rng: random.Random, data: bytes) -> bytes:
    for _ in range(rng.randrange(1, 4)):
        if not data:
            return rng.randbytes(rng.randrange(1, 16))
        where = rng.randrange(len(data))
        roll = rng.random()
        if roll < 0.5:
            data = data[:where] + bytes((data[where] ^ (1 << rng.randrange(8)),)) + data[where + 1 :]
        elif roll < 0.75:
            data = data[:where] + rng.randbytes(rng.randrange(1, 9)) + data[where:]
        else:
            data = data[:where] + data[where + rng.randrange(1, 9) :]
    return data


def cuts_for(rng: random.Random, size: int) -> tuple[int, ...]:
    roll = rng.random()
    if roll < 0.3 or size < 2:
        return ()
    if roll < 0.35 and size <= 400:
        return tuple(range(1, size))  # one byte per read
    return tuple(sorted(rng.sample(range(1, size), min(size - 1, rng.randrange(1, 6)))))


def chunks(data: bytes, cuts: tuple[int, ...]) -> list[bytes]:
    bounds = [0, *(cut for cut in cuts if 0 < cut < len(data)), len(data)]
    return [data[a:b] for a, b in zip(bounds, bounds[1:]) if b > a] or [data]


def check_bounds(reader: FrameReader) -> None:
    # Private state read, not changed: FrameReader has no public view of what it holds.
    # A control frame (125 bytes at most) is read whatever the message limit.
    held = len(reader._buffer)
    if held > max(reader.max_message_bytes, MAX_CONTROL_PAYLOAD) + LARGEST_HEADER:
        raise Broken("buffer over the limit + one header", f"{held} bytes held, limit {reader.max_message_bytes}")
    fragments = sum(len(part) for part in reader._fragments)
    if fragments > reader.max_message_bytes:
        raise Broken("fragments over the limit", f"{fragments} bytes held, limit {reader.max_message_bytes}")


def read_all(limit: int, reads: list[bytes]) -> tuple[list[tuple[int, bytes]], tuple[int, str] | None]:
    """Everything `feed` makes of the reads: the messages, then the error (code, reason) if one stopped it."""
    reader = FrameReader(limit)
    messages: list[tuple[int, bytes]] = []
    error = None
    for data in reads:
        try:
            messages.extend(reader.feed(data))
        except ProtocolError as broken:
            messages.extend(broken.messages)
            error = (broken.code, broken.reason)
            break
        check_bounds(reader)
    for opcode, payload in messages:
        if len(payload) > (MAX_CONTROL_PAYLOAD if opcode >= CLOSE else limit):
            raise Broken("a message over the limit was returned", f"{len(payload)} bytes, opcode {opcode:#x}")
    return messages, error


def check_fast_path(limit: int, reads: list[bytes]) -> None:
    """Two readers in step, as the I/O side drives one: the fast path where it answers, `feed` otherwise."""
    general = FrameReader(limit)
    fast = FrameReader(limit)
    for data in reads:
        taken = fast.whole_binary_frame(data)
        taken = [taken] if taken is not None else fast.whole_binary_frames(data)
        try:
            expected = general.feed(data)
        except ProtocolError as broken:
            if taken is not None:
                raise Broken("fast path took a read feed refuses", f"{broken.reason}; {data[:40]!r}") from None
            return
        if taken is not None:
            if expected != [(BINARY, payload) for payload in taken]:
                raise Broken("fast path differs from feed", f"fast {len(taken)} payloads, feed {_brief(expected)}")
            continue
        try:
            got = fast.feed(data)
        except ProtocolError:
            raise Broken("fast path left the reader in another state", "feed failed after the fast path") from None
        if got != expected:
            raise Broken("fast path left the reader in another state", f"{_brief(got)} vs {_brief(expected)}")


def websockets_reading(data: bytes, limit: int) -> tuple[list[tuple[int, bytes]], str | None, int]:
    """The messages an independent parser finds, joined by the rules of RFC 6455; why it stopped (None: at the
    end of the bytes; "incomplete": inside a frame the bytes end in; "refused": websockets refuses a frame;
    "ours stricter": fragments out of order, which only ours refuses, websockets leaving that to its protocol
    layer); and how many bytes were left from the start of the frame it stopped at."""
    stream = StreamReader()
    stream.feed_data(data)
    stream.feed_eof()
    messages: list[tuple[int, bytes]] = []
    fragment_opcode = 0
    fragments: list[bytes] = []
    while True:
        left = len(stream.buffer)
        parser = Frame.parse(stream.read_exact, mask=True)
        try:
            next(parser)
        except StopIteration as done:
            frame = done.value
        except EOFError:
            return messages, "incomplete" if left else None, left
        except WebSocketsProtocolError:
            return messages, "refused", left
        opcode = int(frame.opcode)
        if opcode >= CLOSE:
            messages.append((opcode, frame.data))
            continue
        if (opcode == CONTINUATION) != bool(fragment_opcode):
            return messages, "ours stricter", left
        fragment_opcode = fragment_opcode or opcode
        fragments.append(frame.data)
        if frame.fin:
            messages.append((fragment_opcode, b"".join(fragments)))
            fragment_opcode, fragments = 0, []
        else:
            messages.append((FRAGMENT, b""))


def check_against_websockets(data: bytes, limit: int, ours: list[tuple[int, bytes]], error: tuple[int, str] | None) -> None:
    if any(opcode == OVERSIZE for opcode, _ in ours):
        return  # ours skips a message over the limit unread, websockets has no limit here: nothing to compare after
    if error is not None and "shortest form" in error[1]:
        return  # websockets reads a length in a longer form than needed; ours refuses it (RFC 6455 5.2)
    theirs, stopped, left = websockets_reading(data, limit)
    if stopped is None or (stopped == "incomplete" and error is None):
        if error is not None:
            raise Broken("ours refuses what websockets reads", f"{error[1]}; websockets read {_brief(theirs)}")
        if ours != theirs:
            raise Broken("ours and websockets read different messages", f"{_brief(ours)} vs {_brief(theirs)}")
        return
    # Ours reads a frame's whole header (up to 10 bytes before the mask key) before it refuses one; websockets
    # may refuse from the first two bytes.
    if stopped in ("refused", "ours stricter") and error is None and left >= 10:
        raise Broken("ours reads what websockets refuses", f"ours read {_brief(ours)}")
    if ours[: len(theirs)] != theirs[: len(ours)]:
        raise Broken("ours and websockets read different messages", f"{_brief(ours)} vs {_brief(theirs)}")


def _brief(messages: list[tuple[int, bytes]]) -> str:
    return "[" + ", ".join(f"({opcode:#x}, {len(payload)} bytes)" for opcode, payload in messages[:8]) + "]"


class FramesTarget:
    name = "frames"
    bound = "FrameReader holds at most max(limit, 125) + 14 bytes unparsed and the limit in fragments, after every read"

    def generate(self, rng: random.Random) -> tuple[int, bytes, tuple[int, ...]]:
        limit = rng.choice(LIMITS)
        if rng.random() < 0.15:
            data = live_frames(rng)
        elif rng.random() < 0.3:
            data = clean_stream(rng, limit)
        else:
            data = b"".join(client_frame(rng, limit) for _ in range(rng.randrange(1, 7)))
        if rng.random() < 0.25:
            data = mutate(rng, data)
        return limit, data, cuts_for(rng, len(data))

    def check(self, case: tuple[int, bytes, tuple[int, ...]]) -> None:
        limit, data, cuts = case
        whole = read_all(limit, [data])
        split = read_all(limit, chunks(data, cuts))
        if split != whole:
            raise Broken("depends on how the bytes are cut", f"whole {_brief(whole[0])} {whole[1]}, "
                                                             f"cut {_brief(split[0])} {split[1]}")
        check_fast_path(limit, [data])
        if cuts:
            check_fast_path(limit, chunks(data, cuts))
        check_against_websockets(data, limit, *whole)

    def shrink(self, case):
        limit, data, cuts = case
        if cuts:
            for fewer in smaller_sequences(cuts):
                yield limit, data, fewer
        for shorter in smaller_sequences(data):
            yield limit, shorter, tuple(cut for cut in cuts if cut < len(shorter))
        for simpler in simpler_bytes(data):
            yield limit, simpler, cuts

    def show(self, case) -> str:
        limit, data, cuts = case
        return f"limit={limit}, data={data!r}, cuts={cuts}"


if __name__ == "__main__":
    main(FramesTarget, __doc__.splitlines()[0])
