"""RFC 6455 framing of the native /ws/audio server: client frames in, whole messages out; server frames out."""

from __future__ import annotations

import struct

import pytest
from websockets.frames import Close, Frame, Opcode
from websockets.streams import StreamReader
from websockets.utils import apply_mask

from babelstream.gateway.websocket.frames import (
    BINARY,
    CLOSE,
    CONTINUATION,
    FRAGMENT,
    OVERSIZE,
    PING,
    PONG,
    TEXT,
    FrameReader,
    ProtocolError,
    encode_close,
    encode_frame,
    parse_close,
)
from tests.support.frames import KEY, client_frame

LIMIT = 65_536


def server_frame_as_websockets_reads_it(data: bytes) -> Frame:
    """Parses one server (unmasked) frame with the websockets library's own parser, which also checks it."""
    reader = StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    parser = Frame.parse(reader.read_exact, mask=False)
    try:
        next(parser)
    except StopIteration as done:
        assert reader.at_eof(), "bytes left over after the frame"
        return done.value
    raise AssertionError("the frame was incomplete")


# -- reading whole frames ----------------------------------------------------------------------------


@pytest.mark.parametrize("size, header_bytes", [(0, 6), (125, 6), (126, 8), (640, 8), (65_535, 8), (65_536, 14), (70_000, 14)])
def test_masked_binary_frame_round_trips_with_each_length_encoding(size, header_bytes):
    """7-bit, 16-bit and 64-bit payload lengths are read, and the payload is unmasked."""
    payload = bytes(i * 7 % 256 for i in range(size))
    data = client_frame(BINARY, payload)
    assert len(data) == header_bytes + size
    assert FrameReader(max_message_bytes=100_000).feed(data) == [(BINARY, payload)]


def test_frames_serialised_by_websockets_are_read():
    """Client frames made by an independent implementation (websockets, random mask keys) parse the same."""
    reader = FrameReader(LIMIT)
    data = b"".join(
        Frame(opcode, payload, fin=True).serialize(mask=True)
        for opcode, payload in [(Opcode.BINARY, b"\1\2" * 320), (Opcode.TEXT, "héllo".encode()), (Opcode.PING, b"p")]
    )
    assert reader.feed(data) == [(BINARY, b"\1\2" * 320), (TEXT, "héllo".encode()), (PING, b"p")]


def test_bytes_split_at_every_offset_give_the_same_messages():
    """However TCP cuts the stream (inside a header, the mask key or the payload), the messages are the same."""
    data = (
        client_frame(BINARY, b"a" * 300)  # 16-bit length
        + client_frame(TEXT, b'{"event":"done"}')
        + client_frame(BINARY, b"b" * 5, fin=False)
        + client_frame(PING, b"ping")
        + client_frame(CONTINUATION, b"c" * 5)
        + client_frame(CLOSE, struct.pack("!H", 1000))
    )
    expected = [
        (BINARY, b"a" * 300),
        (TEXT, b'{"event":"done"}'),
        (FRAGMENT, b""),
        (PING, b"ping"),
        (BINARY, b"b" * 5 + b"c" * 5),
        (CLOSE, struct.pack("!H", 1000)),
    ]
    for cut in range(len(data) + 1):
        reader = FrameReader(LIMIT)
        assert reader.feed(data[:cut]) + reader.feed(data[cut:]) == expected, cut
    reader = FrameReader(LIMIT)
    assert [message for i in range(len(data)) for message in reader.feed(data[i : i + 1])] == expected
    assert reader.feed(b"") == []


def test_several_frames_in_one_feed():
    """Everything complete in one read is returned, in order, and a partial frame waits for its rest."""
    reader = FrameReader(LIMIT)
    partial = client_frame(BINARY, b"z" * 10)
    data = client_frame(BINARY, b"\1" * 640) + client_frame(BINARY, b"\2" * 640) + client_frame(TEXT, b"{}") + partial[:7]
    assert reader.feed(data) == [(BINARY, b"\1" * 640), (BINARY, b"\2" * 640), (TEXT, b"{}")]
    assert reader.feed(partial[7:]) == [(BINARY, b"z" * 10)]


@pytest.mark.parametrize("opcode", [TEXT, BINARY])
def test_fragmented_message_is_joined_and_control_frames_between_fragments_come_in_order(opcode):
    """A fragmented message is one message; a ping or pong between its fragments is returned before it."""
    reader = FrameReader(LIMIT)
    data = (
        client_frame(opcode, b"one ", fin=False)
        + client_frame(PING, b"1")
        + client_frame(CONTINUATION, b"two ", fin=False)
        + client_frame(PONG, b"2")
        + client_frame(CONTINUATION, b"three")
        + client_frame(BINARY, b"next")
    )
    assert reader.feed(data) == [
        (FRAGMENT, b""), (PING, b"1"), (FRAGMENT, b""), (PONG, b"2"), (opcode, b"one two three"), (BINARY, b"next")
    ]


def test_each_incomplete_fragment_is_reported_and_empty_ones_are_not_kept():
    """A fragment counts as a frame the peer sent (rate limits), and a flood of empty ones holds no memory."""
    reader = FrameReader(LIMIT)
    assert reader.feed(client_frame(BINARY, b"x", fin=False)) == [(FRAGMENT, b"")]
    empty = client_frame(CONTINUATION, b"", fin=False)
    assert reader.feed(empty * 10_000) == [(FRAGMENT, b"")] * 10_000
    assert len(reader._fragments) == 1
    assert reader.feed(client_frame(CONTINUATION, b"y")) == [(BINARY, b"xy")]


# -- protocol errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data, reason_part",
    [
        pytest.param(client_frame(BINARY, b"\0" * 4, masked=False), "masked", id="unmasked"),
        pytest.param(client_frame(BINARY, b"\0" * 4, rsv=0x40), "reserved bits", id="rsv1"),
        pytest.param(client_frame(BINARY, b"\0" * 4, rsv=0x20), "reserved bits", id="rsv2"),
        pytest.param(client_frame(BINARY, b"\0" * 4, rsv=0x10), "reserved bits", id="rsv3"),
        pytest.param(client_frame(0x3, b"\0"), "unknown opcode 0x3", id="opcode-0x3"),
        pytest.param(client_frame(0xB, b"\0"), "unknown opcode 0xb", id="opcode-0xb"),
        pytest.param(client_frame(PING, b"x", fin=False), "must not be fragmented", id="fragmented-ping"),
        pytest.param(client_frame(CLOSE, b"", fin=False), "must not be fragmented", id="fragmented-close"),
        pytest.param(client_frame(PING, b"x" * 126), "over 125 bytes", id="ping-126"),
        pytest.param(client_frame(CLOSE, struct.pack("!H", 1000) + b"r" * 124), "over 125 bytes", id="close-126"),
        pytest.param(client_frame(CONTINUATION, b"orphan"), "without a message to continue", id="orphan-continuation"),
        pytest.param(
            client_frame(BINARY, b"a", fin=False) + client_frame(BINARY, b"b"), "before the fragmented one ended",
            id="binary-interrupts-binary",
        ),
        pytest.param(
            client_frame(TEXT, b"a", fin=False) + client_frame(TEXT, b"b", fin=False), "before the fragmented one ended",
            id="text-interrupts-text",
        ),
    ],
)
def test_rfc_violations_raise_protocol_error_1002(data, reason_part):
    """Unmasked, RSV bits, unknown opcode, fragmented or too long control frame, stray or interrupted fragments."""
    with pytest.raises(ProtocolError) as raised:
        FrameReader(LIMIT).feed(data)
    assert raised.value.code == 1002
    assert reason_part in raised.value.reason


def test_a_violation_is_found_from_the_header_alone():
    """The header says enough: no need to wait for the payload of an unmasked 16-bit frame."""
    header_only = client_frame(BINARY, b"\0" * 1000, masked=False)[:4]
    with pytest.raises(ProtocolError):
        FrameReader(LIMIT).feed(header_only)


# -- messages over the limit -------------------------------------------------------------------------


def test_oversize_frame_is_reported_once_and_skipped_across_feeds_then_a_close_is_read():
    """A frame over the limit is refused from its header: reported once, its payload dropped unbuffered."""
    reader = FrameReader(max_message_bytes=1000)
    big = client_frame(BINARY, b"\xaa" * 5000)
    close = client_frame(CLOSE, struct.pack("!H", 1000) + b"bye")
    assert reader.feed(big[:10]) == [(OVERSIZE, b"")]
    assert reader.oversize_bytes == 5000
    assert reader.feed(big[10:2000]) == []
    assert reader.feed(big[2000:4000]) == []
    assert reader.feed(big[4000:] + close) == [(CLOSE, struct.pack("!H", 1000) + b"bye")]
    assert reader._buffer == b""  # nothing of the oversize payload was kept
    assert reader.feed(client_frame(BINARY, b"ok")) == [(BINARY, b"ok")]


def test_oversize_frame_whose_header_is_cut_before_the_mask_key_is_skipped_exactly():
    """The skip counts the header bytes that had not arrived yet, so the next frame starts where it should."""
    reader = FrameReader(max_message_bytes=100)
    big = client_frame(BINARY, b"\x55" * 300)  # 2 + 2 + 4 + 300 bytes
    assert reader.feed(big[:4]) == [(OVERSIZE, b"")]
    assert reader.oversize_bytes == 300
    assert reader.feed(big[4:] + client_frame(PING, b"after")) == [(PING, b"after")]


def test_oversize_frame_in_one_feed_with_what_follows():
    """The whole oversize frame and the next frames in the same read: only the oversize one is dropped."""
    reader = FrameReader(max_message_bytes=100)
    data = client_frame(BINARY, b"1" * 10) + client_frame(TEXT, b"t" * 101) + client_frame(BINARY, b"2" * 10)
    assert reader.feed(data) == [(BINARY, b"1" * 10), (OVERSIZE, b""), (BINARY, b"2" * 10)]
    assert reader.oversize_bytes == 101


def test_fragmented_message_over_the_limit_is_reported_once_and_its_later_fragments_skipped():
    """Fragments under the limit one by one but over it together: one OVERSIZE, the rest of the message dropped."""
    reader = FrameReader(max_message_bytes=1000)
    first = client_frame(BINARY, b"a" * 600, fin=False)
    second = client_frame(CONTINUATION, b"b" * 600, fin=False)  # 1,200 in total: over
    third = client_frame(CONTINUATION, b"c" * 600, fin=False)
    last = client_frame(CONTINUATION, b"d" * 10)
    assert reader.feed(first) == [(FRAGMENT, b"")]
    assert reader.feed(second[:300]) == [(OVERSIZE, b"")]
    assert reader.oversize_bytes == 1200
    assert reader.feed(second[300:] + third[:5]) == []
    assert reader.feed(third[5:] + client_frame(PING, b"mid") + last) == [(PING, b"mid")]
    # The message is over: a new one is read normally, and a continuation now has nothing to continue.
    assert reader.feed(client_frame(BINARY, b"fresh")) == [(BINARY, b"fresh")]
    with pytest.raises(ProtocolError):
        reader.feed(client_frame(CONTINUATION, b"late"))


def test_oversize_first_fragment_skips_the_rest_of_its_message():
    reader = FrameReader(max_message_bytes=100)
    data = client_frame(TEXT, b"x" * 200, fin=False) + client_frame(CONTINUATION, b"y" * 5) + client_frame(TEXT, b"{}")
    assert reader.feed(data) == [(OVERSIZE, b""), (TEXT, b"{}")]
    assert reader.oversize_bytes == 200


# -- the fast path: whole binary frames at a message boundary -----------------------------------------


@pytest.mark.parametrize("size", [1, 2, 7, 8, 9, 125, 126, 640, 1000])
def test_whole_binary_frame_returns_the_payload_of_exactly_one_frame(size):
    payload = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
    reader = FrameReader(1000)
    assert reader.whole_binary_frame(client_frame(BINARY, payload)) == payload


def test_several_whole_frames_back_to_back_give_their_payloads_in_order():
    """When the loop is behind, TCP joins a live client's frames: the fast path takes them all."""
    reader = FrameReader(1000)
    frames = [bytes([n]) * size for n, size in enumerate([640, 1, 125, 126, 1000, 640])]
    data = b"".join(client_frame(BINARY, f) for f in frames)
    assert reader.whole_binary_frame(data) is None
    assert reader.whole_binary_frames(data) == frames


def test_the_fast_path_decides_as_the_general_parser_on_random_input():
    """Whenever the fast path answers, the general parser reads the same bytes as exactly those binary messages;
    the fast path may decline (then the general one runs), never disagree."""
    import random

    rng = random.Random(7)
    answered = 0
    for _ in range(3000):
        pieces = []
        for _ in range(rng.choice([1, 1, 2, 3, 5])):
            size = rng.choice([0, 1, 3, 125, 126, 127, 640, 999, 1000, 1001, 70_000])
            pieces.append(client_frame(rng.choice([BINARY, BINARY, BINARY, TEXT]), rng.randbytes(size),
                                       fin=rng.random() < 0.95, masked=rng.random() < 0.97, key=rng.randbytes(4)))
        data = b"".join(pieces)
        if rng.random() < 0.2:
            data = (data + rng.randbytes(3))[: rng.randrange(len(data) + 3)]
        fast = FrameReader(1000)
        one, several = fast.whole_binary_frame(data), fast.whole_binary_frames(data)
        if one is None and several is None:
            continue
        answered += 1
        assert one is None or several is None
        expected = [(BINARY, p) for p in ([one] if one is not None else several)]
        assert FrameReader(1000).feed(data) == expected, data[:16]
    assert answered > 500


def test_whole_binary_frame_declines_everything_else():
    """None for a text frame, a non-final frame, partial or extra bytes, a frame over the limit, a 64-bit length,
    an unmasked frame, reserved bits, and any frame read while a fragmented message is pending."""
    reader = FrameReader(max_message_bytes=1000)
    frame = client_frame(BINARY, b"\1" * 640)
    declined = [
        client_frame(TEXT, b"{}" * 10),
        client_frame(BINARY, b"\1" * 640, fin=False),
        frame[:-1],
        frame + b"\0",
        frame + client_frame(BINARY, b"\2" * 2),
        client_frame(BINARY, b"\1" * 20)[:-1],
        client_frame(BINARY, b"\0" * 1002),
        client_frame(BINARY, b"\0" * 70_000),
        client_frame(BINARY, b"\0" * 20, masked=False),
        client_frame(BINARY, b"\0" * 20, rsv=0x40),
        b"\x82\x80",
    ]
    for data in declined:
        assert reader.whole_binary_frame(data) is None, data[:16]
    assert reader.whole_binary_frame(frame) == b"\1" * 640
    several_declined = [frame, frame + frame[:-1], frame + client_frame(TEXT, b"{}"), frame + client_frame(PING)]
    for data in several_declined:
        assert reader.whole_binary_frames(data) is None, data[:16]

    assert reader.feed(client_frame(BINARY, b"start", fin=False)) == [(FRAGMENT, b"")]
    assert reader.whole_binary_frame(frame) is None  # a whole frame now would break the pending message
    assert reader.whole_binary_frames(frame + frame) is None
    with pytest.raises(ProtocolError):
        reader.feed(frame)


def test_whole_binary_frame_is_declined_while_bytes_are_pending():
    """A partial frame buffered, or an oversize payload being skipped: the next bytes are not a frame start."""
    reader = FrameReader(max_message_bytes=1000)
    frame = client_frame(BINARY, b"\1" * 640)
    assert reader.feed(frame[:3]) == []
    assert reader.whole_binary_frame(frame) is None
    assert reader.feed(frame[3:]) == [(BINARY, b"\1" * 640)]
    assert reader.whole_binary_frame(frame) == b"\1" * 640

    assert reader.feed(client_frame(BINARY, b"\0" * 2000)[:100]) == [(OVERSIZE, b"")]
    assert reader.whole_binary_frame(frame) is None


# -- close frames ------------------------------------------------------------------------------------


def test_parse_close_without_payload_is_1005():
    assert parse_close(b"") == (1005, "")


@pytest.mark.parametrize("code", [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999])
def test_parse_close_reads_code_and_utf8_reason(code):
    assert parse_close(struct.pack("!H", code) + "adiós 👋".encode()) == (code, "adiós 👋")


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535])
def test_parse_close_refuses_codes_a_peer_may_not_send(code):
    with pytest.raises(ProtocolError) as raised:
        parse_close(struct.pack("!H", code))
    assert raised.value.code == 1002 and str(code) in raised.value.reason


def test_parse_close_refuses_a_one_byte_payload():
    with pytest.raises(ProtocolError) as raised:
        parse_close(b"\x03")
    assert raised.value.code == 1002


def test_parse_close_with_a_reason_that_is_not_utf8_is_1007():
    with pytest.raises(ProtocolError) as raised:
        parse_close(struct.pack("!H", 1000) + b"\xff\xfe")
    assert raised.value.code == 1007


def test_encode_close_cuts_a_long_multibyte_reason_on_a_character_boundary():
    """A control frame holds 125 bytes: 2 for the code, at most 123 of reason, never half a character."""
    reason = "é" * 100  # 200 bytes; 123 would end in the middle of the 62nd "é"
    frame = encode_close(1011, reason)
    assert frame[0] == 0x88 and frame[1] == len(frame) - 2 <= 125
    code, text = parse_close(frame[2:])
    assert (code, text) == (1011, "é" * 61)
    assert len(frame[2:]) == 2 + 122
    assert encode_close(1000) == b"\x88\x02\x03\xe8"
    assert encode_close(4000, "short") == b"\x88\x07\x0f\xa0short"


# -- what the server writes, read by an independent parser --------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65_535, 65_536, 100_000])
def test_encoded_frames_are_read_by_websockets(size):
    """Server frames (unmasked, FIN) with each length encoding are what the websockets parser expects."""
    payload = bytes(i % 251 for i in range(size))
    for opcode, websockets_opcode in [(BINARY, Opcode.BINARY), (TEXT, Opcode.TEXT)]:
        frame = server_frame_as_websockets_reads_it(encode_frame(opcode, payload))
        assert (frame.opcode, frame.fin, frame.data) == (websockets_opcode, True, payload)


def test_encoded_control_frames_are_read_by_websockets():
    pong = server_frame_as_websockets_reads_it(encode_frame(PONG, b"echo"))
    assert (pong.opcode, pong.data) == (Opcode.PONG, b"echo")
    close = server_frame_as_websockets_reads_it(encode_close(1009, "frame too big"))
    assert close.opcode == Opcode.CLOSE
    parsed = Close.parse(close.data)
    assert (parsed.code, parsed.reason) == (1009, "frame too big")
    long = server_frame_as_websockets_reads_it(encode_close(1008, "😀" * 100))
    assert Close.parse(long.data).reason == "😀" * 30  # 123 bytes hold 30 four-byte characters


def test_the_reader_reads_what_the_encoder_writes_once_masked():
    """encode_frame + a mask is a client frame: the two halves of the codec agree."""
    for payload in (b"", b"x" * 125, b"y" * 126, b"z" * 70_000):
        unmasked = encode_frame(BINARY, payload)
        header = 2 + (0 if len(payload) < 126 else 2 if len(payload) < 1 << 16 else 8)
        masked = bytes((unmasked[0], unmasked[1] | 0x80)) + unmasked[2:header] + KEY + apply_mask(unmasked[header:], KEY)
        assert FrameReader(100_000).feed(masked) == [(BINARY, payload)]


def test_lengths_not_in_their_shortest_form_or_with_the_top_bit_set_are_protocol_errors():
    """RFC 6455 5.2: the minimal number of length bytes must be used, and a 64-bit length has its top bit clear."""
    mask = b"\x01\x02\x03\x04"
    cases = [
        bytes((0x82, 0x80 | 126)) + (5).to_bytes(2, "big") + mask + b"\0" * 5,
        bytes((0x82, 0x80 | 127)) + (300).to_bytes(8, "big") + mask + b"\0" * 300,
        bytes((0x82, 0x80 | 127)) + (1 << 63 | 70_000).to_bytes(8, "big") + mask,
    ]
    for frame in cases:
        reader = FrameReader(1 << 20)
        assert reader.whole_binary_frame(frame) is None
        with pytest.raises(ProtocolError) as raised:
            reader.feed(frame)
        assert raised.value.code == 1002


def test_messages_before_a_protocol_error_in_the_same_read_travel_with_the_error():
    mask = b"\x01\x02\x03\x04"
    good = bytes((0x82, 0x80 | 4)) + mask + apply_mask(b"\1\2\3\4", mask)
    unmasked = bytes((0x82, 0x02)) + b"\0\0"
    with pytest.raises(ProtocolError) as raised:
        FrameReader(65536).feed(good + unmasked)
    assert raised.value.messages == [(0x2, b"\1\2\3\4")]
