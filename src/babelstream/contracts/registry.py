"""A small client for the Confluent Schema Registry REST API (register, set compatibility, fetch by id)."""

from __future__ import annotations

import json
import threading
from typing import Any

import httpx
from fastavro import parse_schema

from babelstream.contracts.errors import SchemaRegistryError

_CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


class SchemaRegistryClient:
    def __init__(self, url: str, timeout_seconds: float = 10.0):
        self._http = httpx.Client(base_url=url.rstrip("/"), timeout=timeout_seconds, headers={"Content-Type": _CONTENT_TYPE})
        self._by_id: dict[int, Any] = {}
        self._lock = threading.Lock()

    def _call(self, method: str, path: str, body: dict | None = None) -> dict:
        try:
            response = self._http.request(method, path, content=json.dumps(body) if body is not None else None)
        except httpx.HTTPError as error:
            raise SchemaRegistryError(f"schema registry unreachable at {self._http.base_url}: {error}") from error
        if response.status_code >= 400:
            raise SchemaRegistryError(f"schema registry {method} {path} -> {response.status_code}: {response.text}")
        return response.json()

    def register(self, subject: str, schema_json: str, compatibility: str | None = None) -> int:
        if compatibility:
            self._call("PUT", f"/config/{subject}", {"compatibility": compatibility})
        return int(self._call("POST", f"/subjects/{subject}/versions", {"schema": schema_json})["id"])

    def parsed_schema(self, schema_id: int) -> Any:
        with self._lock:
            if schema_id not in self._by_id:
                schema = json.loads(self._call("GET", f"/schemas/ids/{schema_id}")["schema"])
                self._by_id[schema_id] = parse_schema(schema, _write_hint=False)
            return self._by_id[schema_id]
