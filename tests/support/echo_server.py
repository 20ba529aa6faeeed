"""A throwaway WebSocket echo server on the `websockets` library, known to pass the Autobahn TestSuite: the
reference that shows tests/support/autobahn.py judges a compliant server compliant."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

# The gateway's frame limit (GatewaySettings.max_chunk_bytes), so the reference refuses what the gateway would.
MAX_MESSAGE_BYTES = 65_536


async def echo(connection: ServerConnection) -> None:
    """Sends every message back as it came, text as text and binary as binary."""
    try:
        async for message in connection:
            await connection.send(message)
    except ConnectionClosed:
        pass  # the fuzzer breaks the protocol on purpose; websockets has already closed with its code


@asynccontextmanager
async def websockets_echo_server(host: str = "127.0.0.1") -> AsyncIterator[str]:
    """Serves `echo` in the running event loop on a free port, and yields its ws:// URL."""
    # No permessage-deflate: the gateway negotiates no extension, and cases 1-9 do not offer one.
    async with serve(echo, host, 0, max_size=MAX_MESSAGE_BYTES, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        yield f"ws://{host}:{port}/"
