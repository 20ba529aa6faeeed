"""How the gateway is served: uvicorn for HTTP and the ASGI app, a protocol of our choosing for /ws/audio.

`uvicorn_config` is the one place that wires them together; `babelstream serve|gateway`, the tests and the
benchmarks all use it, so what is measured is what runs.
"""

from __future__ import annotations

import functools
from typing import Any

import uvicorn
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from babelstream.gateway.service import Gateway
from babelstream.gateway.websocket.audio_socket import AudioSocketProtocol


def uvicorn_config(app: Any, gateway: Gateway, host: str, port: int, **options: Any) -> uvicorn.Config:
    """uvicorn hands every WebSocket upgrade to the protocol WS_AUDIO_SERVER names, which serves /ws/audio itself
    and passes any other path to uvicorn's own WebSocket protocol (and so to the ASGI app)."""
    if gateway.settings.ws_audio_server == "picows":
        from babelstream.gateway.websocket.picows_socket import PicowsUpgrade

        upgrade: Any = PicowsUpgrade
    else:
        upgrade = AudioSocketProtocol
    protocol = functools.partial(upgrade, gateway=gateway, fallback=WebSocketsSansIOProtocol)
    options.setdefault("log_level", "info")
    return uvicorn.Config(app, host=host, port=port, ws=protocol, lifespan="on", **options)
