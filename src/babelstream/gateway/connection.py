"""What a session needs from its socket, whichever server carries it (the native /ws/audio protocol, or ASGI)."""

from __future__ import annotations

from typing import Protocol


class Connection(Protocol):
    async def send_text(self, text: str) -> None:
        """Send one text message; waits while the client is not reading (back-pressure)."""

    async def close(self, code: int) -> None:
        """Send the close frame with this code; the socket closes once the client answers (or after a timeout)."""
