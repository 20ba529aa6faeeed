"""A test double of the Confluent Schema Registry: the subset of its REST API that our client and
confluent-kafka's client use, served over real HTTP on 127.0.0.1, recording every call.

No schema registry server can run on this machine (Confluent's is not on PyPI or Maven Central, karapace
needs a Kafka broker), so unit tests talk to this instead. It follows the documented API
(https://docs.confluent.io/platform/current/schema-registry/develop/api.html): ids are global and the
same schema gets the same id under every subject, versions are per subject, errors carry `error_code`
and `message`. It does NOT check compatibility; it only records the level a client asked for.
"""

from __future__ import annotations

import json
import re
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator
from urllib.parse import parse_qs, unquote, urlsplit

from fastavro.schema import parse_schema, to_parsing_canonical_form

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


@dataclass(frozen=True)
class Call:
    method: str
    path: str  # decoded, without the query string
    query: dict[str, list[str]]
    body: Any
    authorization: str | None = None  # the request's Authorization header, to check credentials were sent


class RegistryState:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: list[Call] = []
        self.schemas: dict[int, str] = {}  # id -> schema string as first registered
        self.ids_by_canonical: dict[str, int] = {}
        self.subjects: dict[str, list[int]] = {}  # subject -> schema id of each version (version = index + 1)
        self.config: dict[str, str] = {}  # subject -> compatibility level

    def _canonical(self, schema_str: str) -> str:
        return to_parsing_canonical_form(parse_schema(json.loads(schema_str), _write_hint=False))

    def register(self, subject: str, schema_str: str) -> int:
        canonical = self._canonical(schema_str)
        schema_id = self.ids_by_canonical.get(canonical)
        if schema_id is None:
            schema_id = len(self.schemas) + 1
            self.schemas[schema_id] = schema_str
            self.ids_by_canonical[canonical] = schema_id
        versions = self.subjects.setdefault(subject, [])
        if schema_id not in versions:
            versions.append(schema_id)
        return schema_id

    def version_record(self, subject: str, version: int) -> dict[str, Any]:
        schema_id = self.subjects[subject][version - 1]
        return {"subject": subject, "version": version, "id": schema_id, "schema": self.schemas[schema_id]}

    def calls_to(self, method: str, path_pattern: str) -> list[Call]:
        return [c for c in self.calls if c.method == method and re.fullmatch(path_pattern, c.path)]


def _not_found(code: int, message: str) -> tuple[int, dict]:
    return 404, {"error_code": code, "message": message}


def _handle(state: RegistryState, method: str, path: str, body: Any) -> tuple[int, Any]:
    parts = [unquote(p) for p in path.strip("/").split("/")]
    with state.lock:
        # POST /subjects/{subject}/versions: register (idempotent), answer the global id
        if method == "POST" and len(parts) == 3 and parts[0] == "subjects" and parts[2] == "versions":
            if body.get("schemaType", "AVRO") != "AVRO":
                return 422, {"error_code": 42201, "message": "only AVRO schemas in this double"}
            return 200, {"id": state.register(parts[1], body["schema"])}
        # POST /subjects/{subject}: is this schema registered under the subject?
        if method == "POST" and len(parts) == 2 and parts[0] == "subjects":
            subject = parts[1]
            if subject not in state.subjects:
                return _not_found(40401, f"Subject '{subject}' not found.")
            wanted = state._canonical(body["schema"])
            for index, schema_id in enumerate(state.subjects[subject]):
                if state._canonical(state.schemas[schema_id]) == wanted:
                    return 200, state.version_record(subject, index + 1)
            return _not_found(40403, "Schema not found")
        # GET /schemas/ids/{id}
        if method == "GET" and len(parts) == 3 and parts[:2] == ["schemas", "ids"]:
            schema_id = int(parts[2])
            if schema_id not in state.schemas:
                return _not_found(40403, "Schema not found")
            return 200, {"schema": state.schemas[schema_id]}
        # GET /subjects/{subject}/versions/{latest|n}
        if method == "GET" and len(parts) == 4 and parts[0] == "subjects" and parts[2] == "versions":
            subject = parts[1]
            if subject not in state.subjects:
                return _not_found(40401, f"Subject '{subject}' not found.")
            version = len(state.subjects[subject]) if parts[3] == "latest" else int(parts[3])
            if not 1 <= version <= len(state.subjects[subject]):
                return _not_found(40402, "Version not found.")
            return 200, state.version_record(subject, version)
        # GET /subjects/{subject}/versions
        if method == "GET" and len(parts) == 3 and parts[0] == "subjects" and parts[2] == "versions":
            if parts[1] not in state.subjects:
                return _not_found(40401, f"Subject '{parts[1]}' not found.")
            return 200, list(range(1, len(state.subjects[parts[1]]) + 1))
        # GET /subjects
        if method == "GET" and parts == ["subjects"]:
            return 200, sorted(state.subjects)
        # GET /associations/resources/{namespace}/{topic}: confluent-kafka >= 2.13 asks which subject a topic
        # is associated with; none here, so it falls back to the topic name strategy (`<topic>-value`)
        if method == "GET" and len(parts) == 4 and parts[:2] == ["associations", "resources"]:
            return 200, []
        # PUT /config/{subject}, GET /config/{subject}
        if len(parts) == 2 and parts[0] == "config":
            if method == "PUT":
                level = str(body["compatibility"]).upper()
                state.config[parts[1]] = level
                return 200, {"compatibility": level}
            if method == "GET":
                if parts[1] not in state.config:
                    return _not_found(40408, f"Subject '{parts[1]}' does not have subject-level compatibility configured")
                return 200, {"compatibilityLevel": state.config[parts[1]]}
    return _not_found(404, f"{method} {path} is not implemented by the registry double")


class _Handler(BaseHTTPRequestHandler):
    state: RegistryState  # set on the subclass made per server

    def _serve(self) -> None:
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        path = unquote(split.path)
        with self.state.lock:
            self.state.calls.append(
                Call(self.command, path, parse_qs(split.query), body, self.headers.get("Authorization"))
            )
        try:
            status, answer = _handle(self.state, self.command, split.path, body)
        except Exception as error:  # a bug in the double must show up as a clear 500, not a hang
            status, answer = 500, {"error_code": 50001, "message": f"registry double failed: {error!r}"}
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:  # keep pytest output clean
        pass


@dataclass
class RunningRegistry:
    url: str
    state: RegistryState


@contextmanager
def registry_double() -> Iterator[RunningRegistry]:
    state = RegistryState()
    handler = type("Handler", (_Handler,), {"state": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="registry-double", daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield RunningRegistry(f"http://{host}:{port}", state)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
