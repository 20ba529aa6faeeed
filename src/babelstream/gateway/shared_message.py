"""One message for many room members: built once (messages.py), encoded once per wire format however many read it.

A room's result goes to every member that reads its language, on whichever door each came in: the WebSocket's
JSON text and gRPC's protobuf bytes are each made at most once per message (the transport's `encode` function is
the key), not once per member.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from babelstream.gateway import messages

Encoded = TypeVar("Encoded", str, bytes)


class SharedMessage:
    __slots__ = ("_encoded", "message")

    def __init__(self, message: dict):
        self.message = message
        self._encoded: dict[Callable, str | bytes] = {}

    def encoded(self, encode: Callable[[dict], Encoded]) -> Encoded:
        cached = self._encoded.get(encode)
        if cached is None:
            cached = self._encoded[encode] = encode(self.message)
        return cached

    @property
    def text(self) -> str:
        """As the WebSocket sends it (JSON)."""
        return self.encoded(messages.encode)
