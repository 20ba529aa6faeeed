"""Bus configuration. Every field is read from the environment variable of the same name (upper case)."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class BusSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    # "memory" runs everything in one process; "kafka" talks to KAFKA_BOOTSTRAP_SERVERS.
    bus: str = "memory"
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    # How long a process waits for the broker at start (exponential backoff with jitter) before giving up.
    kafka_startup_timeout_seconds: float = 60.0
    # Bounded retry for one publish: librdkafka retries until this expires, then the publish fails.
    kafka_delivery_timeout_ms: int = 10_000
    kafka_topic_partitions: int = 6
    # Partitions of the reply topics (results as the gateways read them, docs/kafka.md "Reply routing"): each
    # gateway and each room it holds takes one, so a gateway reads about 1/this of the results beyond its own.
    kafka_reply_partitions: int = 32
    kafka_replication_factor: int = 1
    # Copies of a write that acks=all waits for (the topics' min.insync.replicas). 0: one fewer than the
    # replication factor, at least 1 — with 3 replicas, 2: an acknowledged event survives the loss of any one
    # broker, and publishing goes on while one is down (docs/kafka.md, "The replicated cluster").
    kafka_min_insync_replicas: int = 0
    # A stage that stops heartbeating loses its partitions after this long; short so a crash fails over fast.
    kafka_session_timeout_ms: int = 10_000
    # Empty: Avro single-object encoding. Set: Confluent wire format with subjects <topic>-value.
    schema_registry_url: str = ""

    def min_insync_replicas(self) -> int:
        if self.kafka_min_insync_replicas > 0:
            return self.kafka_min_insync_replicas
        return max(1, self.kafka_replication_factor - 1)
