"""The HTTP/WebSocket face of the gateway: /ws/audio, health, readiness, metrics, capabilities, the page."""

from __future__ import annotations

import gc
from contextlib import asynccontextmanager
from importlib import resources
from typing import AsyncIterator, Awaitable, Callable

from fastapi import FastAPI, WebSocket
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from babelstream.gateway.asgi_connection import serve_asgi
from babelstream.gateway.service import Gateway


def create_app(
    gateway: Gateway,
    on_startup: Callable[[], Awaitable[None]] | None = None,
    on_shutdown: Callable[[], Awaitable[None]] | None = None,
) -> FastAPI:
    """`on_startup` starts what the gateway depends on (the bus, and in embedded mode the stages)."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if on_startup:
            await on_startup()
        await gateway.start()
        # What exists now (modules, models' Python objects, settings) lives as long as the process: out of the
        # collector's reach, a full collection walks only the sessions' objects. At 1,000 streams the full
        # collections otherwise stalled the loop for 100-200 ms (docs/benchmarks/gateway-capacity.md).
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            await gateway.stop()
            if on_shutdown:
                await on_shutdown()

    app = FastAPI(title="babelstream gateway", lifespan=lifespan)
    app.state.gateway = gateway

    @app.websocket("/ws/audio")
    async def audio(websocket: WebSocket) -> None:
        await serve_asgi(gateway, websocket)

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        ready = gateway.bus.is_ready()
        return JSONResponse({"ready": ready}, status_code=200 if ready else 503)

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(gateway.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/api/languages")
    async def languages() -> dict:
        capabilities = gateway.capabilities
        settings = gateway.settings

        def listed(values) -> list | None:
            return None if values is None else sorted(values)

        pairs = capabilities.pairs() if capabilities else None
        return {
            "default_source_language": settings.default_source_language,
            "default_target_languages": list(settings.default_target_languages),
            "source_languages": listed(capabilities.source_languages()) if capabilities else None,
            "pairs": None if pairs is None else [f"{s}-{t}" for s, t in sorted(pairs)],
            "speech_languages": listed(capabilities.speech_languages()) if capabilities else None,
            # Per pair: its path, measured chrF/BLEU, and low_quality under the floor (the page warns).
            "pair_quality": capabilities.pair_quality() if capabilities else None,
            "quality_floor": capabilities.quality_floor() if capabilities else None,
        }

    static = resources.files("babelstream.gateway") / "static"
    if (static / "index.html").is_file():
        with resources.as_file(static) as folder:
            app.mount("/", StaticFiles(directory=str(folder), html=True), name="page")
    return app
