"""The reference for bench/gateway_capacity.py: the least a FastAPI WebSocket endpoint can do with a stream.

Accept, say connected, then `receive` and append every binary frame to a bytearray; on {"event":"done"}
answer with an ack and close 1000 (so the same load generator drives it and counts it the same way as the
gateway). No limits, no VAD, no publishing: whatever the gateway costs above this is its own work.
"""

from __future__ import annotations

from typing import Callable

from fastapi import FastAPI, WebSocket


def create_reference_app(on_frame: Callable[[bytes], None] | None = None) -> FastAPI:
    app = FastAPI(title="reference receive-and-buffer loop")

    @app.websocket("/ws/audio")
    async def audio(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_json({"status": "connected"})
        buffer = bytearray()
        receive = websocket.receive
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            data = message.get("bytes")
            if data is not None:
                if on_frame is not None:
                    on_frame(data)
                buffer += data
                continue
            if '"done"' in (message.get("text") or ""):
                await websocket.send_json({"type": "ack", "received_bytes": len(buffer)})
                await websocket.close(1000)
                return
            # anything else (the start message) is ignored

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"status": "ok"}

    return app
