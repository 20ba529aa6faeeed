"""/ws/audio through ASGI (any ASGI server, Starlette's test client): the portable path.

`babelstream` serves /ws/audio with its own protocol (gateway/websocket/) and uses this only for servers that
are not uvicorn; both drive the same Session.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from starlette.websockets import WebSocket

from babelstream.gateway.protocol import encode, error
from babelstream.gateway.session import Session

if TYPE_CHECKING:
    from babelstream.gateway.service import Gateway

log = logging.getLogger(__name__)


class AsgiConnection:
    def __init__(self, websocket: WebSocket):
        self._websocket = websocket

    async def send_text(self, text: str) -> None:
        await self._websocket.send({"type": "websocket.send", "text": text})

    async def close(self, code: int) -> None:
        await self._websocket.send({"type": "websocket.close", "code": int(code), "reason": ""})


async def pump(websocket: WebSocket, session: Session) -> None:
    """Feeds the socket's messages to the session until it stops reading (done, a limit) or the client leaves."""
    receive = websocket.receive
    while session.reading:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            session.disconnected()
            return
        data = message.get("bytes")
        if data is not None:
            session.receive_bytes(data)
        else:
            session.receive_text(message.get("text") or "")


async def serve_asgi(gateway: Gateway, websocket: WebSocket) -> None:
    refusal = gateway.admit(websocket.headers.get("origin"))
    connection = AsgiConnection(websocket)
    if refusal is not None:
        try:
            await websocket.accept()
            await connection.send_text(encode(error(refusal.code, refusal.reason)))
            await connection.close(refusal.code)
        except Exception as failure:  # the client left before hearing why
            log.debug("refusal not delivered: %s", failure)
        return
    try:
        await websocket.accept()
        session = Session(connection, gateway)
        reader = asyncio.create_task(pump(websocket, session))
        try:
            await session.run()
        finally:
            reader.cancel()
    finally:
        gateway.release()
