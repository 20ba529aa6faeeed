"""WebSocket frames as a client puts them on the wire, written independently of the code under test."""

from __future__ import annotations

import struct

from websockets.utils import apply_mask

KEY = b"\x37\xfa\x21\x3d"


def client_frame(opcode: int, payload: bytes = b"", *, fin: bool = True, masked: bool = True, rsv: int = 0,
                 key: bytes = KEY) -> bytes:
    """A frame as a client puts it on the wire (masked unless told otherwise), written here independently of
    the code under test. `rsv` is the three reserved bits as they sit in the first byte (0x40, 0x20, 0x10)."""
    first = (0x80 if fin else 0) | rsv | opcode
    mask_bit = 0x80 if masked else 0
    length = len(payload)
    if length < 126:
        head = bytes((first, mask_bit | length))
    elif length < 1 << 16:
        head = bytes((first, mask_bit | 126)) + struct.pack("!H", length)
    else:
        head = bytes((first, mask_bit | 127)) + struct.pack("!Q", length)
    return head + key + apply_mask(payload, key) if masked else head + payload
