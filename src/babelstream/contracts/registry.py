"""The schema registry, through confluent-kafka's own client (`confluent_kafka.schema_registry`): how we connect to
it, and its failures named in our terms (contracts/errors.py).

The client speaks the Confluent Schema Registry REST API (Confluent's registry, Apicurio Registry's
`/apis/ccompat/v7`, Karapace...), sends HTTP Basic auth, and caches what it learnt: a schema id is fetched once,
a schema registered once per subject.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx2
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError as RegistryRefusal

from babelstream.contracts.errors import SchemaRegistryError, UnknownSchemaId

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


def _without_credentials(url: str) -> tuple[str, str | None]:
    """(the URL without userinfo, "user:password" or None). The client is given the two apart: a URL carrying
    its password would be the one httpx logs with every request."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, None
    userinfo, _, host = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    return urlunsplit(parts._replace(netloc=host)), f"{unquote(user)}:{unquote(password)}"


class SchemaRegistry:
    """A connection to one registry: `client` for confluent-kafka's serializers, `answering` around every call."""

    def __init__(self, url: str, timeout_seconds: float = 10.0):
        self.url = redacted_url(url.rstrip("/"))  # for logs and error text
        plain, user_info = _without_credentials(url.rstrip("/"))
        conf: dict[str, object] = {
            "url": plain,
            "timeout": timeout_seconds,
            # No retries inside the client: it would sleep on the caller's thread (a stage's event loop). A stage
            # waits out an unreachable registry itself, with backoff, asynchronously (stages/runtime.py).
            "max.retries": 0,
        }
        if user_info is not None:
            conf["basic.auth.user.info"] = user_info
        try:
            self.client = SchemaRegistryClient(conf)
        except ValueError:
            raise ValueError(f"SCHEMA_REGISTRY_URL {self.url} is not a valid URL") from None

    @contextmanager
    def answering(self, request: str, schema_id: int | None = None) -> Iterator[None]:
        """Runs a call to the registry, raising UnknownSchemaId when it has no such schema id (the message's fault)
        and SchemaRegistryError when it cannot answer (worth waiting out). No credential is in either's text:
        the client never holds the password in a URL, and `self.url` is redacted."""
        try:
            yield
        except RegistryRefusal as error:
            if schema_id is not None and error.http_status_code == 404 and error.error_code == _SCHEMA_NOT_FOUND:
                # The registry is up and has no such schema: no wait will make this message readable.
                raise UnknownSchemaId(schema_id, self.url) from error
            raise SchemaRegistryError(
                f"schema registry {request} at {self.url} -> {error.http_status_code}: {error.error_message}"
            ) from error
        except httpx2.HTTPError as error:
            raise SchemaRegistryError(f"schema registry unreachable at {self.url}: {error}") from error
