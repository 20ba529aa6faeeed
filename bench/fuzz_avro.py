"""Fuzzes the event decoder (contracts/codec.py: SingleObjectCodec.decode) with mutated valid events.

Each case is one of tests/support/events.py's sample events (every event type, every field set), encoded, then
changed: one of its lengths or item counts (zig-zag varints) made to claim up to 2^62 bytes or items, bits
flipped, bytes set, inserted, deleted or duplicated, the body cut short, or a huge varint written anywhere. What must hold:
`decode` returns an `Event` or raises `ContractError` (`MalformedEvent`), nothing else; an event it returns
encodes again and decodes to itself; and nothing allocates what a length claims: the cases that write a huge
length run under tracemalloc, and the peak of what they allocate must stay under 4 MB (an event is ~3 KB).

    .venv/bin/python bench/fuzz_avro.py [--cases 1000000] [--seconds S] [--seed 0]
"""

from __future__ import annotations

import random
import sys
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from babelstream.contracts.codec import SingleObjectCodec  # noqa: E402
from babelstream.contracts.errors import ContractError  # noqa: E402
from babelstream.contracts.events import Event  # noqa: E402
from babelstream.contracts.topics import TOPIC_OF_EVENT_TYPE  # noqa: E402
from bench.fuzzing import MB, Broken, main, simpler_bytes, smaller_sequences  # noqa: E402
from tests.support.events import EVENT_TYPES, expected_record, sample_event  # noqa: E402

HEADER = 10  # C3 01 + the 8-byte fingerprint
HUGE_CLAIM_PEAK_MB = 4
_CLAIMS = (1 << 31, (1 << 31) - 1, 1 << 40, (1 << 62) - 1, 1 << 20, -(1 << 31), -1)


def zigzag(value: int) -> bytes:
    """An Avro long as it is written: zig-zag, then 7 bits a byte, least significant first."""
    number = (value << 1) ^ (value >> 63)
    out = bytearray()
    while number > 0x7F:
        out.append(number & 0x7F | 0x80)
        number >>= 7
    out.append(number)
    return bytes(out)


def length_fields(data: bytes, event: Event) -> list[tuple[int, int]]:
    """Where the body's lengths and counts are, as (offset, size): every string and bytes value of the event
    is written after its length, and each array (the timings, the target languages) after its item count."""
    found = []

    def values(value):
        if isinstance(value, dict):
            for item in value.values():
                yield from values(item)
        elif isinstance(value, (list, tuple)):
            if value:
                yield len(value), values(value[0])
            for item in value:
                yield from values(item)
        elif isinstance(value, (str, bytes)):
            yield value

    for value in values(expected_record(event)):
        if isinstance(value, tuple):  # an array: its count, then its first item's encoding starts the same way
            count, first = value
            first_value = next((v for v in first if not isinstance(v, tuple)), None)
            if first_value is None:
                continue
            value, prefix = first_value, zigzag(count)
        else:
            prefix = b""
        raw = value.encode() if isinstance(value, str) else value
        needle = prefix + zigzag(len(raw)) + raw[:8]
        offset = data.find(needle, HEADER)
        if offset >= 0:
            found.append((offset, len(prefix) or len(zigzag(len(raw)))))
    return found


def mutate(rng: random.Random, data: bytes, lengths: list[tuple[int, int]]) -> tuple[bytes, bool]:
    """The changed bytes, and whether a huge length was written."""
    huge = False
    if rng.random() < 0.2:  # a length or count that claims gigabytes or billions of items, where one is
        offset, size = rng.choice(lengths)
        data = data[:offset] + zigzag(rng.choice(_CLAIMS)) + data[offset + size :]
        huge = True
        if rng.random() < 0.5:
            return data, huge
    for _ in range(rng.randrange(1, 4)):
        # The header stays whole three times in four: past it is where the decoder's work is.
        low = HEADER if rng.random() < 0.75 and len(data) > HEADER else 0
        where = rng.randrange(low, len(data) + 1)
        roll = rng.random()
        if roll < 0.3 and where < len(data):
            data = data[:where] + bytes((data[where] ^ (1 << rng.randrange(8)),)) + data[where + 1 :]
        elif roll < 0.45 and where < len(data):
            data = data[:where] + bytes((rng.randrange(256),)) + data[where + 1 :]
        elif roll < 0.55:
            data = data[:where] + rng.randbytes(rng.randrange(1, 9)) + data[where:]
        elif roll < 0.65:
            data = data[:where] + data[where + rng.randrange(1, 17) :]
        elif roll < 0.72:
            data = data[:where]
        elif roll < 0.8:
            start = rng.randrange(len(data) + 1)
            data = data[:where] + data[start : start + rng.randrange(1, 64)] + data[where:]
        else:
            claim = zigzag(rng.choice(_CLAIMS))
            data = data[:where] + claim + data[where + rng.randrange(0, len(claim) + 1) :]
            huge = True
    return data, huge


class AvroTarget:
    name = "avro"
    bound = f"cases that write a huge length: tracemalloc peak under {HUGE_CLAIM_PEAK_MB} MB"

    def __init__(self) -> None:
        self.codec = SingleObjectCodec()
        self.encoded = []
        for event_type in EVENT_TYPES:
            event = sample_event(event_type)
            data = self.codec.encode(event, TOPIC_OF_EVENT_TYPE[event_type])
            self.encoded.append((data, length_fields(data, event)))

    def generate(self, rng: random.Random) -> tuple[bytes, bool]:
        data, lengths = rng.choice(self.encoded)
        return mutate(rng, data, lengths)

    def check(self, case: tuple[bytes, bool]) -> None:
        data, huge = case
        tracing = huge and not tracemalloc.is_tracing()
        if tracing:
            tracemalloc.start()
        try:
            event = self.codec.decode(data)
        except ContractError:
            return
        finally:
            if tracing:
                peak = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
        if tracing and peak > HUGE_CLAIM_PEAK_MB * MB:
            raise Broken("allocated what a length claims", f"peak {peak / MB:.0f} MB")
        if not isinstance(event, Event):
            raise Broken("decoded to something that is not an Event", repr(event)[:200])
        topic = TOPIC_OF_EVENT_TYPE[event.event_type]
        try:
            encoded = self.codec.encode(event, topic)
            again = self.codec.encode(self.codec.decode(encoded), topic)
        except ContractError as error:
            raise Broken("a decoded event does not encode and decode again", str(error)) from None
        # Compared as bytes: a float field may decode to NaN, which is never equal to itself.
        if again != encoded:
            raise Broken("a decoded event does not encode and decode to itself", repr(event)[:200])

    def shrink(self, case):
        data, huge = case
        for shorter in smaller_sequences(data):
            yield shorter, huge
        for simpler in simpler_bytes(data):
            yield simpler, huge

    def show(self, case) -> str:
        data, _ = case
        return f"data=bytes.fromhex({data.hex()!r})"


if __name__ == "__main__":
    main(AvroTarget, __doc__.splitlines()[0])
