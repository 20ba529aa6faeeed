"""The Confluent wire format's cost per event: confluent-kafka's AvroSerializer / AvroDeserializer (what
ConfluentCodec uses) beside fastavro framed by hand (what contracts/codec.py did before, and still does for the
registry-less single-object format), in the same run, on the same events, against a real registry.

The registry is not on the hot path (both sides cache the schema id and the parsed schema); what is measured is
the per-event work: record -> bytes and bytes -> Event, for a text event (~300 bytes) and a speech segment with
3 s of 16 kHz audio (~96 KB). It starts scripts/schema-registry.sh on 127.0.0.1:19481 and 19482
(BENCH_SCHEMA_REGISTRY_PORT; data in .cache/registry-bench) when SCHEMA_REGISTRY_URL is not set, and stops it at
the end.

    .venv/bin/python bench/registry_codec.py              # ~40 s with the registry's start
    SCHEMA_REGISTRY_URL=http://127.0.0.1:8081/apis/ccompat/v7 .venv/bin/python bench/registry_codec.py

Reference: docs/benchmarks/registry-codec.md.
"""

from __future__ import annotations

import dataclasses
import io
import os
import statistics
import struct
import subprocess
import sys
import time
from pathlib import Path

from fastavro import schemaless_reader, schemaless_writer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from babelstream.contracts.codec import ConfluentCodec, from_record, to_record  # noqa: E402
from babelstream.contracts.registry import SchemaRegistry  # noqa: E402
from babelstream.contracts.schemas import event_schemas  # noqa: E402
from babelstream.contracts.topics import TOPIC_OF_EVENT_TYPE  # noqa: E402
from tests.support.events import sample_event  # noqa: E402

BENCH_PORT = int(os.environ.get("BENCH_SCHEMA_REGISTRY_PORT", "19481"))  # and the next one for its health
BENCH_ENV = {
    "SCHEMA_REGISTRY_PORT": str(BENCH_PORT),
    "SCHEMA_REGISTRY_MANAGEMENT_PORT": str(BENCH_PORT + 1),
    "SCHEMA_REGISTRY_DATA_DIR": str(ROOT / ".cache" / "registry-bench"),
}


def per_call_us(fn, rounds: int, repeats: int = 5) -> float:
    """Median over `repeats` of the mean time of `rounds` calls, in microseconds."""
    fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(rounds):
            fn()
        samples.append((time.perf_counter() - start) / rounds * 1e6)
    return statistics.median(samples)


def events():
    text = sample_event("TextRecognizedEvent")
    segment = sample_event("SpeechSegmentEvent")
    segment = dataclasses.replace(segment, payload=dataclasses.replace(segment.payload, audio_bytes=bytes(96_000)))
    return [("TextRecognizedEvent", text, 3000), ("SpeechSegmentEvent (96 KB audio)", segment, 1000)]


def run(url: str) -> None:
    registry = SchemaRegistry(url)
    codec = ConfluentCodec(registry)
    print(f"registry: {registry.url}")
    print(f"{'event':34} {'bytes':>7} | {'encode: library':>15} {'by hand':>8} | {'decode: library':>15} {'by hand':>8}")
    for label, event, rounds in events():
        topic = TOPIC_OF_EVENT_TYPE[event.event_type]
        schema = event_schemas()[event.event_type]
        data = codec.encode(event, topic)
        header = data[:5]

        def by_hand_encode():
            buffer = io.BytesIO()
            buffer.write(header)
            schemaless_writer(buffer, schema.parsed, to_record(event))
            return buffer.getvalue()

        def by_hand_decode():
            struct.unpack(">I", data[1:5])  # the id, which the hand-written codec looked up in its own cache
            return from_record(schemaless_reader(io.BytesIO(data[5:]), schema.parsed, schema.parsed))

        assert by_hand_encode() == data and by_hand_decode() == codec.decode(data) == event
        library_encode = per_call_us(lambda: codec.encode(event, topic), rounds)
        hand_encode = per_call_us(by_hand_encode, rounds)
        library_decode = per_call_us(lambda: codec.decode(data), rounds)
        hand_decode = per_call_us(by_hand_decode, rounds)
        print(f"{label:34} {len(data):>7} | {library_encode:>12.1f} us {hand_encode:>5.1f} us | "
              f"{library_decode:>12.1f} us {hand_decode:>5.1f} us")
    print("library = ConfluentCodec (AvroSerializer / AvroDeserializer + size checks + Event mapping); "
          "by hand = fastavro with the 5-byte header written and read by us (+ Event mapping)")


def main() -> None:
    url = os.environ.get("SCHEMA_REGISTRY_URL")
    if url:
        run(url)
        return
    env = {**os.environ, **BENCH_ENV}
    script = str(ROOT / "scripts" / "schema-registry.sh")
    subprocess.run([script, "start", "--fresh"], env=env, check=True)
    try:
        base = subprocess.run([script, "url"], env=env, check=True, capture_output=True, text=True).stdout.strip()
        run(base)
    finally:
        subprocess.run([script, "stop"], env=env, check=False)


if __name__ == "__main__":
    main()
