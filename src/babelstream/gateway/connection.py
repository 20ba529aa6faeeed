"""What a session needs from its client's connection, whichever door it came in by: the native /ws/audio WebSocket
(websocket/audio_handler.py) or a gRPC Translate call (grpc/translate_call.py).

The session builds every message as a dict (messages.py); the connection says how its wire carries one (`encode`:
JSON text on the WebSocket, protobuf bytes on gRPC), and the outbox queues what `encode` made, bounded by its
length, so MAX_SEND_QUEUE_BYTES holds on every door."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol


class Connection(Protocol):
    # A plain function (the same object for every connection of one transport): a room's result shared by many
    # members is encoded once per transport (shared_message.py), keyed by it.
    encode: Callable[[dict], str | bytes]

    async def send(self, encoded: str | bytes) -> None:
        """Send one encoded message; waits while the client is not reading (back-pressure)."""

    async def close(self, code: int) -> None:
        """End the stream with this close code (the WebSocket's close frame; gRPC's status, from the error the
        session sent just before). The connection closes once the client answers (or after a timeout)."""
