"""The gateway's HTTP routes: health, readiness, metrics, capabilities, the page.

/ws/audio is not among them: it is served beside this app, on the same port (see server.py), and is the only
way to a session; a WebSocket upgrade to any other path reaches this app, which has no WebSocket route (403).
"""

from __future__ import annotations

import gc
from contextlib import asynccontextmanager
from importlib import resources
from typing import AsyncIterator, Awaitable, Callable

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from babelstream.gateway.access.http_guard import AccessGuard
from babelstream.gateway.gateway import Gateway
from babelstream.gateway.languages import installed_languages


def create_app(
    gateway: Gateway,
    on_startup: Callable[[], Awaitable[None]] | None = None,
    on_shutdown: Callable[[], Awaitable[None]] | None = None,
    more_metrics: tuple[CollectorRegistry, ...] = (),
    before_scrape: Callable[[], Awaitable[None]] | None = None,
    doors: tuple = (),
) -> FastAPI:
    """`on_startup` starts what the gateway depends on (the bus, and in embedded mode the stages).
    `more_metrics`: registries served on /metrics beside the gateway's (in embedded mode, the stages'), each
    brought up to date by `before_scrape` first (the stages' consumer lag is read when it is asked for).
    `doors`: other ways to the gateway's sessions in this process (the gRPC ingress, grpc/server.py), each with
    `start` and `stop`: opened once the gateway has started, closed before it stops."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if on_startup:
            await on_startup()
        await gateway.start()
        for door in doors:
            await door.start()
        # What exists now (modules, models' Python objects, settings) lives as long as the process: out of the
        # collector's reach, a full collection walks only the sessions' objects. At a thousand streams the full
        # collections otherwise stalled the loop (docs/benchmarks/gateway-capacity.md).
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            for door in reversed(doors):
                await door.stop()
            await gateway.stop()
            if on_shutdown:
                await on_shutdown()

    # No /docs, /redoc or /openapi.json: docs/protocol.md is the contract, and a gateway on a network shows no more than it serves.
    app = FastAPI(title="babelstream gateway", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.gateway = gateway
    # /api/* and /metrics take the same Origin and credential rule as /ws/audio; health and the page stay open.
    settings = gateway.settings
    app.add_middleware(
        AccessGuard, policy=gateway.access, allowlist=settings.origin_allowlist, bound_host=settings.host
    )

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        ready = gateway.bus.is_ready()
        return JSONResponse({"ready": ready}, status_code=200 if ready else 503)

    @app.get("/metrics")
    async def metrics() -> Response:
        if before_scrape is not None:
            await before_scrape()
        body = b"".join(generate_latest(registry) for registry in (gateway.metrics.registry, *more_metrics))
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    @app.get("/api/languages")
    async def languages() -> dict:
        return installed_languages(gateway.settings, gateway.capabilities)

    static = resources.files("babelstream.gateway") / "static"
    if (static / "index.html").is_file():
        with resources.as_file(static) as folder:
            app.mount("/", StaticFiles(directory=str(folder), html=True), name="page")
    return app
