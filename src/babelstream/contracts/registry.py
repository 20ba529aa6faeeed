"""A small client for the Confluent Schema Registry REST API (register, set compatibility, fetch by id)."""

from __future__ import annotations

import json
import threading
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from fastavro import parse_schema

from babelstream.contracts.errors import SchemaRegistryError, UnknownSchemaId

_CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
_REDACTED = "[redacted]"
# The registry's own "Schema not found" (its API's error code, with HTTP 404). A bare 404 without it may be a
# wrong URL or a proxy's page: that is the configuration's fault, waited out like an outage.
_SCHEMA_NOT_FOUND = 40403


def redacted_url(url: str) -> str:
    """The URL with its user and password (a registry's credentials ride in SCHEMA_REGISTRY_URL) replaced: what
    a log line or an error may show."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return _REDACTED
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=f"{_REDACTED}@{parts.netloc.rpartition('@')[2]}"))


class SchemaRegistryClient:
    def __init__(self, url: str, timeout_seconds: float = 10.0):
        self.url = redacted_url(url.rstrip("/"))  # for logs and error text
        try:
            address = httpx.URL(url.rstrip("/"))
        except httpx.InvalidURL:
            raise ValueError(f"SCHEMA_REGISTRY_URL {self.url} is not a valid URL") from None
        # Credentials go in an Authorization header, never in the request URL: httpx logs every request's URL.
        auth = httpx.BasicAuth(address.username, address.password) if address.userinfo else None
        self._http = httpx.Client(
            base_url=address.copy_with(username=None, password=None), auth=auth, timeout=timeout_seconds,
            headers={"Content-Type": _CONTENT_TYPE},
        )
        self._by_id: dict[int, Any] = {}
        self._lock = threading.Lock()

    def _request(self, method: str, path: str, body: dict | None = None) -> httpx.Response:
        try:
            return self._http.request(method, path, content=json.dumps(body) if body is not None else None)
        except httpx.HTTPError as error:
            raise SchemaRegistryError(f"schema registry unreachable at {self.url}: {error}") from error

    def _answer(self, method: str, path: str, response: httpx.Response) -> dict:
        if response.status_code >= 400:
            raise SchemaRegistryError(f"schema registry {method} {path} -> {response.status_code}: {response.text}")
        return response.json()

    def _call(self, method: str, path: str, body: dict | None = None) -> dict:
        return self._answer(method, path, self._request(method, path, body))

    def register(self, subject: str, schema_json: str, compatibility: str | None = None) -> int:
        if compatibility:
            self._call("PUT", f"/config/{subject}", {"compatibility": compatibility})
        return int(self._call("POST", f"/subjects/{subject}/versions", {"schema": schema_json})["id"])

    def parsed_schema(self, schema_id: int) -> Any:
        with self._lock:
            if schema_id not in self._by_id:
                path = f"/schemas/ids/{schema_id}"
                response = self._request("GET", path)
                if response.status_code == 404 and _error_code(response) == _SCHEMA_NOT_FOUND:
                    # The registry is up and has no such schema: no wait will make this message readable.
                    raise UnknownSchemaId(schema_id, self.url)
                schema = json.loads(self._answer("GET", path, response)["schema"])
                self._by_id[schema_id] = parse_schema(schema, _write_hint=False)
            return self._by_id[schema_id]


def _error_code(response: httpx.Response) -> int | None:
    try:
        answer = response.json()
    except ValueError:
        return None
    return answer.get("error_code") if isinstance(answer, dict) else None
