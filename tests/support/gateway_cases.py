"""What the gateway tests share: the codec, a stretch of PCM, reading a topic back, and every limit with the
close code and kind it must end a session with (run on the in-memory bus and on Kafka)."""

from __future__ import annotations

import json

from babelstream.bus.memory import MemoryBus
from babelstream.contracts.codec import SingleObjectCodec
from tests.support.harness import HOLD

CODEC = SingleObjectCodec()
PCM = bytes(range(256)) * 250  # 64,000 bytes = 2 s of 16 kHz PCM16


async def consume_all(bus: MemoryBus, topic: str, group: str = "test"):
    subscription = await bus.subscribe([topic], group)
    events = []
    while (message := await subscription.next(timeout_seconds=0.2)) is not None:
        events.append((message, CODEC.decode(message.value)))
    await subscription.close()
    return events


LIMIT_CASES = [
    ([b"\0" * 70_000], {}, 1009, "frame_too_large", "over the 65536-byte limit"),
    ([b"\0" * 101], {}, 1007, "not_whole_samples", "not whole PCM16 samples"),
    (["not json"], {}, 1003, "malformed", "must be JSON"),
    ([json.dumps({"event": "dance"})], {}, 1003, "malformed", "unknown event"),
    ([b"\0" * 640] * 30, {"max_messages_per_second": 10}, 1008, "rate", "rate exceeded"),
    ([b"\0" * 640] * 5, {"max_buffer_bytes": 2000, "default_mode": "single"}, 1009, "buffer_full", "buffer full"),
    ([b"\0" * 640, HOLD], {"max_session_seconds": 0.5, "idle_timeout_seconds": 30}, 1008, "session_too_long", "session longer than"),
    ([b"\0" * 640, HOLD], {"idle_timeout_seconds": 0.5}, 1001, "idle", "idle"),
    ([], {}, 1003, "empty_stream", "empty stream"),
]
