"""The Avro schemas shipped in this package, loaded once and indexed by event type and by fingerprint."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from fastavro import parse_schema
from fastavro.schema import fingerprint, load_schema, to_parsing_canonical_form

NAMESPACE = "babelstream"


@dataclass(frozen=True)
class EventSchema:
    event_type: str
    schema: dict[str, Any]  # self-contained: named types from other .avsc files are expanded inline
    parsed: Any  # fastavro's parsed form, ready for the writer and reader
    canonical: str  # Parsing Canonical Form: what fingerprints and the registry compare
    fingerprint: bytes  # CRC-64-AVRO, 8 bytes little-endian, as Avro single-object encoding wants

    @property
    def json(self) -> str:
        return json.dumps(self.schema)


@cache
def event_schemas() -> dict[str, EventSchema]:
    folder = resources.files("babelstream.contracts") / "schemas"
    found: dict[str, EventSchema] = {}
    for entry in folder.iterdir():
        name = entry.name
        if not (name.endswith("Event.avsc") and name.startswith(NAMESPACE + ".")):
            continue
        with resources.as_file(entry) as path:
            schema = load_schema(str(path), _write_hint=False)
        event_type = name[len(NAMESPACE) + 1 : -len(".avsc")]
        canonical = to_parsing_canonical_form(schema)
        found[event_type] = EventSchema(
            event_type=event_type,
            schema=schema,
            parsed=parse_schema(schema),
            canonical=canonical,
            fingerprint=bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO")),
        )
    return found


@cache
def schema_by_fingerprint() -> dict[bytes, EventSchema]:
    return {s.fingerprint: s for s in event_schemas().values()}
