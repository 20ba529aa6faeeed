"""The composition root: builds the bus, the codec, the gateway and the stages from settings, and runs them.

`babelstream serve` runs the gateway and every stage in one process (in-memory bus by default);
`babelstream gateway` and `babelstream stage NAME` run one component each, over Kafka.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

from babelstream.bus.base import Bus
from babelstream.bus.kafka import KafkaBus
from babelstream.bus.memory import MemoryBus
from babelstream.bus.settings import BusSettings
from babelstream.contracts.codec import ConfluentCodec, EventCodec, SingleObjectCodec
from babelstream.contracts.registry import SchemaRegistryClient
from babelstream.contracts.topics import TOPIC_OF_EVENT_TYPE

log = logging.getLogger(__name__)


def build_bus(settings: BusSettings, client_id: str) -> Bus:
    if settings.bus == "memory":
        return MemoryBus()
    if settings.bus == "kafka":
        return KafkaBus(settings, client_id=client_id)
    raise ValueError(f"BUS must be 'memory' or 'kafka', got {settings.bus!r}")


def build_codec(settings: BusSettings) -> EventCodec:
    if not settings.schema_registry_url:
        return SingleObjectCodec()
    codec = ConfluentCodec(SchemaRegistryClient(settings.schema_registry_url))
    codec.prepare(TOPIC_OF_EVENT_TYPE)
    return codec


def instance_id(component: str) -> str:
    return f"{component}-{uuid.uuid4().hex[:8]}"


async def start_bus(bus: Bus) -> None:
    await bus.start()


def run_forever() -> asyncio.Future:
    return asyncio.get_running_loop().create_future()
