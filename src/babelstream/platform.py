"""The composition root: builds the bus, the codec, the gateway and the stages from settings, and runs them.

`babelstream serve` runs the gateway and every stage in one process (in-memory bus unless --kafka);
`babelstream gateway` and `babelstream stage NAME` run one component each, over Kafka.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import uuid

import uvicorn

from babelstream.bus.base import Bus
from babelstream.bus.kafka import KafkaBus
from babelstream.bus.memory import MemoryBus
from babelstream.bus.settings import BusSettings
from babelstream.capabilities import InstalledCapabilities
from babelstream.contracts.codec import ConfluentCodec, EventCodec, SingleObjectCodec
from babelstream.contracts.registry import SchemaRegistry
from babelstream.bus.reply_route import REPLY_COPY_TOPIC_OF_EVENT_TYPE
from babelstream.contracts.topics import TOPIC_OF_EVENT_TYPE
from babelstream.gateway.grpc.server import GrpcServer
from babelstream.gateway.http_app import create_app
from babelstream.gateway.websocket.uvicorn_adapter import uvicorn_config
from babelstream.gateway.gateway import Gateway
from babelstream.segmentation import endpointer_factory
from babelstream.settings import Settings
from babelstream.stages.metrics import StageMetrics
from babelstream.stages.runtime import Stage, StageRunner

log = logging.getLogger(__name__)

STAGE_NAMES = ("segmenter", "asr", "translate", "tts")


def build_bus(settings: BusSettings, client_id: str) -> Bus:
    if settings.bus == "memory":
        return MemoryBus()
    if settings.bus == "kafka":
        return KafkaBus(settings, client_id=client_id)
    raise ValueError(f"BUS must be 'memory' or 'kafka', got {settings.bus!r}")


def build_codec(settings: BusSettings) -> EventCodec:
    if not settings.schema_registry_url:
        return SingleObjectCodec()
    codec = ConfluentCodec(SchemaRegistry(settings.schema_registry_url))
    codec.prepare(TOPIC_OF_EVENT_TYPE)
    codec.prepare(REPLY_COPY_TOPIC_OF_EVENT_TYPE)  # the transcripts' and translations' reply copies
    return codec


def instance_id(component: str) -> str:
    return f"{component}-{uuid.uuid4().hex[:8]}"


def build_stage(name: str, service: str, settings: Settings) -> Stage:
    # Imported here: each stage pulls in its engines, and a process runs only the stages it needs.
    if name == "segmenter":
        from babelstream.stages.segmenter import SegmenterStage

        return SegmenterStage(settings.segmentation, service)
    if name == "asr":
        from babelstream.stages.asr import AsrStage

        return AsrStage(settings.stages, service)
    if name == "translate":
        from babelstream.stages.translate import TranslateStage

        return TranslateStage(settings.stages, service)
    if name == "tts":
        from babelstream.stages.tts import TtsStage

        return TtsStage(settings.stages, service)
    raise ValueError(f"unknown stage {name!r}; stages: {', '.join(STAGE_NAMES)}")


class Platform:
    """Some components (a gateway, some stages) sharing one bus in one process."""

    def __init__(self, settings: Settings, *, gateway: bool, stages: tuple[str, ...], observer=None):
        """observer: a gateway.session_context.SessionObserver, for tests and benches that watch sessions."""
        self.settings = settings
        self.service = instance_id("babelstream")
        self.bus = build_bus(settings.bus, self.service)
        self.codec = build_codec(settings.bus)
        self.stage_metrics = StageMetrics(stages)
        self.runners = [
            StageRunner(
                build_stage(name, f"{name}-{self.service}", settings), self.bus, self.codec, f"{name}-{self.service}",
                observer=self.stage_metrics,
            )
            for name in stages
        ]
        self.partial_workers = self._partial_workers(settings)
        self.gateway: Gateway | None = None
        if gateway:
            self.gateway = Gateway(
                settings.gateway,
                self.bus,
                self.codec,
                endpointer_factory(settings.segmentation),
                InstalledCapabilities(
                    settings.stages,
                    translators=self._stage_registry("translate"),
                    synthesizers=self._stage_registry("tts"),
                ),
                observer,
            )

    def _partial_workers(self, settings: Settings) -> list:
        """Interim results are decoded where the ASR stage runs, on a topic and a model of their own; their stable
        text is translated where the translate stage runs, with its router."""
        workers = []
        asr = next((r.stage for r in self.runners if r.stage.name == "asr"), None)
        if asr is not None and settings.stages.asr_partials:
            from babelstream.stages.partial_asr import PartialAsrWorker

            workers.append(PartialAsrWorker(
                self.bus, self.codec, f"asr-partial-{self.service}", asr.partial_batcher,
                finals_busy=lambda: asr.busy > 0, batch_size=settings.stages.asr_batch_size,
            ))
        translate = next((r.stage for r in self.runners if r.stage.name == "translate"), None)
        if translate is not None:
            from babelstream.stages.partial_translate import PartialTranslator

            workers.append(PartialTranslator(
                self.bus, self.codec, f"translate-partial-{self.service}", translate.router,
                interval_ms=settings.stages.partial_translation_interval_ms, finals_busy=lambda: translate.busy > 0,
            ))
        return workers

    def _stage_registry(self, name: str):
        """The engine registry of a stage running in this process, if any."""
        return next((r.stage.registry for r in self.runners if r.stage.name == name), None)

    async def start(self) -> None:
        await self.bus.start()
        for runner in self.runners:
            log.info("starting stage %s (loading its models)", runner.stage.name)
            await runner.start()
        for worker in self.partial_workers:
            await worker.start()

    async def stop(self) -> None:
        for worker in self.partial_workers:
            await worker.stop()
        for runner in self.runners:
            await runner.stop()
        await self.bus.stop()

    def app(self):
        """The HTTP app; the gRPC ingress (GRPC_PORT, unless 0) opens and closes with it, in the same event loop."""
        assert self.gateway is not None
        doors = (GrpcServer(self.gateway),) if self.settings.gateway.grpc_port else ()
        if not self.runners:
            return create_app(self.gateway, on_startup=self.start, on_shutdown=self.stop, doors=doors)
        # Embedded: the stages' metrics on the gateway's /metrics (no stage HTTP server runs in this process).
        return create_app(
            self.gateway, on_startup=self.start, on_shutdown=self.stop,
            more_metrics=(self.stage_metrics.registry,), before_scrape=self._read_stage_lags, doors=doors,
        )

    async def _read_stage_lags(self) -> None:
        for runner in self.runners:
            self.stage_metrics.set_lags(runner.stage.name, await runner.consumer_lags())


def http_config(platform: Platform) -> uvicorn.Config:
    """How `serve` and `gateway` are served: the app and /ws/audio on HOST:PORT, over TLS when SSL_CERTFILE is set
    (and the gRPC ingress on GRPC_PORT, which the app's lifespan opens).
    uvicorn installs no log handlers of its own (log_config=None): its records reach the root logger, which the
    command line configured (log_format.py), so LOG_FORMAT holds for its lines too."""
    assert platform.gateway is not None
    settings = platform.settings.gateway
    return uvicorn_config(
        platform.app(), platform.gateway, settings.host, settings.port, log_config=None,
        ssl_certfile=settings.ssl_certfile, ssl_keyfile=settings.ssl_keyfile,
    )


def serve_http(platform: Platform) -> None:
    uvicorn.Server(http_config(platform)).run()


async def run_stages(platform: Platform) -> None:
    """A process with stages only: run until SIGINT/SIGTERM. Its /healthz, /readyz and /metrics answer from before
    the models load (not ready until they are warm) to the end."""
    from babelstream.stages.http_server import StageHttpServer

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    settings = platform.settings.stages
    server = None
    if settings.metrics_port:
        server = StageHttpServer(
            settings.metrics_host, settings.metrics_port, bus=platform.bus, runners=platform.runners,
            metrics=platform.stage_metrics,
        )
        try:
            server.start()
            log.info("stage metrics on http://%s:%d/metrics", settings.metrics_host, server.port)
        except OSError as error:
            # The stages' work matters more than their dashboard: run without it, and say how to fix it.
            log.error("stage metrics not served on %s:%d (%s); give each stage on a host its own --metrics-port",
                      settings.metrics_host, settings.metrics_port, error)
            server = None
    await platform.start()
    log.info("stages %s running on %s", [r.stage.name for r in platform.runners], platform.settings.bus.bus)
    await stop.wait()
    await platform.stop()
    if server is not None:
        server.stop()
