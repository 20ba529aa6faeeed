"""Apache Kafka bus on confluent-kafka (librdkafka).

Producer: acks=all + idempotence, so a confirmed publish is on every in-sync replica exactly once per
produce call; delivery reports arrive on a poll thread and resolve asyncio futures — nothing flushes
synchronously on the event loop. Consumer: auto-commit off; the caller commits after it handled a message
(at-least-once). Each consumer lives on its own single thread because librdkafka consumers are not
safe to call from several threads at once.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from confluent_kafka import (
    OFFSET_END,
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, NewTopic

from babelstream.bus.base import BusError, Message, PublishFailed
from babelstream.bus.settings import BusSettings
from babelstream.contracts import limits
from babelstream.contracts.topics import ALL_TOPICS, REPLY_TOPICS, ROOM_PRESENCE

log = logging.getLogger(__name__)

_HEALTH_INTERVAL_SECONDS = 2.0
# A message a consumer fetches may be a whole 2 MiB event; fetch sizes must admit it.
_FETCH_BYTES = limits.MAX_MESSAGE_BYTES + 1024 * 1024
# What a consumer may hold fetched ahead of its reader: librdkafka's default is 64 MiB per consumer, which a stage
# behind its topic fills with audio (the ASR stage rose ~290 MB on a long talk it lagged: docs/benchmarks/rooms.md).
# 8 MiB is ~80 utterances of audio, far more than a stage takes in one go; librdkafka may overshoot it by one fetch.
_PREFETCH_KBYTES = 8 * 1024
# Lag asks the broker only for what the consumer does not know yet (a partition not consumed since assignment).
_LAG_QUERY_SECONDS = 2.0


def _message_of(raw, reader: str) -> Message | None:
    """A polled record as a Message; None for no record, a partition's end, or an error (logged)."""
    if raw is None:
        return None
    error = raw.error()
    if error is not None:
        if error.code() != KafkaError._PARTITION_EOF:
            log.warning("%s error: %s", reader, error)
        return None
    return Message(raw.topic(), raw.partition(), raw.offset(), raw.key(), raw.value() or b"")


async def _poll_until(reader: KafkaSubscription | KafkaPartitionReader, timeout_seconds: float | None) -> Message | None:
    """The reader's next record, polled off the loop in steps of at most 0.5 s (so a close is noticed), or None once
    `timeout_seconds` pass or the reader is closed."""
    deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
    while not reader._closed:
        step = 0.5 if deadline is None else max(0.0, min(0.5, deadline - time.monotonic()))
        message = await reader._run(reader._poll, step)
        if message is not None:
            return message
        if deadline is not None and time.monotonic() >= deadline:
            return None
    return None


async def _close(reader: KafkaSubscription | KafkaPartitionReader) -> None:
    """Once: the consumer closed on its own thread (a Kafka consumer is called from one thread only), then that."""
    if reader._closed:
        return
    reader._closed = True
    await reader._run(reader._consumer.close)
    reader._executor.shutdown(wait=False)


class KafkaSubscription:
    def __init__(self, consumer: Consumer, executor: ThreadPoolExecutor):
        self._consumer = consumer
        self._executor = executor
        self._pending: list[Message] = []
        self.assigned = threading.Event()
        self._closed = False
        # The next offset of each partition this consumer has read from: a re-assignment (the group coordinator's
        # broker died, the session timed out) continues there. Touched only on the consumer's own thread.
        self.positions: dict[tuple[str, int], int] = {}

    async def _run(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def _poll(self, timeout: float) -> Message | None:
        message = _message_of(self._consumer.poll(timeout), "consumer")
        if message is not None:
            self.positions[(message.topic, message.partition)] = message.offset + 1
        return message

    async def wait_assigned(self, timeout_seconds: float) -> None:
        deadline = time.monotonic() + timeout_seconds
        while not self.assigned.is_set() and time.monotonic() < deadline:
            message = await self._run(self._poll, 0.2)
            if message is not None:
                self._pending.append(message)
        if not self.assigned.is_set():
            raise BusError(f"no partitions assigned within {timeout_seconds:.0f} s")

    async def next(self, timeout_seconds: float | None = None) -> Message | None:
        if self._pending:
            return self._pending.pop(0)
        return await _poll_until(self, timeout_seconds)

    async def commit(self, message: Message) -> None:
        position = [TopicPartition(message.topic, message.partition, message.offset + 1)]
        try:
            await self._run(lambda: self._consumer.commit(offsets=position, asynchronous=False))
        except KafkaException as error:
            # The partition moved to another member (rebalance): it will redeliver; that is at-least-once.
            log.warning("commit of %s[%d]@%d failed: %s", message.topic, message.partition, message.offset, error)

    async def lags(self) -> dict[tuple[str, int], int]:
        if self._closed:
            return {}
        return await self._run(self._lags)

    def _lags(self) -> dict[tuple[str, int], int]:
        """End of each assigned partition minus the next offset this member consumes. Both are local when the
        consumer has fetched from the partition (its position; the high watermark each fetch brings back); only a
        partition not consumed since assignment costs a broker round trip (its committed offset, its watermarks)."""
        try:
            positions = self._consumer.position(self._consumer.assignment())
            unknown = [p for p in positions if p.offset < 0]
            committed = {}
            if unknown:
                committed = {(p.topic, p.partition): p.offset for p in self._consumer.committed(unknown, timeout=_LAG_QUERY_SECONDS)}
            lags = {}
            for partition in positions:
                low, high = self._consumer.get_watermark_offsets(partition, cached=True)
                if high < 0 or partition.offset < 0:
                    low, high = self._consumer.get_watermark_offsets(partition, timeout=_LAG_QUERY_SECONDS)
                key = (partition.topic, partition.partition)
                next_offset = partition.offset if partition.offset >= 0 else committed.get(key, -1)
                if next_offset < 0:
                    next_offset = low  # nothing committed yet: the group starts at the earliest offset
                lags[key] = max(0, high - next_offset)
            return lags
        except KafkaException as error:
            log.debug("consumer lag unavailable: %s", error)
            return {}

    async def close(self) -> None:
        await _close(self)


_LEADER_WAIT_SECONDS = 15.0
_NO_LEADER_YET = {
    KafkaError.NOT_LEADER_FOR_PARTITION,
    KafkaError.LEADER_NOT_AVAILABLE,
    # the client's view of a partition's leader is older than the cluster's: a leader just moved (a broker died or
    # came back), and the next metadata refresh has the new one
    KafkaError.FENCED_LEADER_EPOCH,
    KafkaError.UNKNOWN_LEADER_EPOCH,
    KafkaError.OFFSET_NOT_AVAILABLE,
    KafkaError.UNKNOWN_TOPIC_OR_PART,
    KafkaError._TIMED_OUT,
    KafkaError.REQUEST_TIMED_OUT,
}


class KafkaPartitionReader:
    """Partitions assigned by hand (incremental_assign), on one thread of its own like every consumer here."""

    def __init__(self, consumer: Consumer, executor: ThreadPoolExecutor):
        self._consumer = consumer
        self._executor = executor
        self._followed: set[tuple[str, int]] = set()
        self._closed = False
        self.fetched_bytes = 0
        # Per partition followed: its end when it was followed, and the next offset to read (set on the consumer's
        # thread, read on the loop's: single ints, swapped whole).
        self._ends: dict[tuple[str, int], int] = {}
        self._positions: dict[tuple[str, int], int] = {}

    async def _run(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def caught_up(self, partitions: list[tuple[str, int]]) -> bool:
        return all(self._positions.get(p, -1) >= self._ends.get(p, 0) for p in partitions)

    async def follow(self, partitions: list[tuple[str, int]], *, since_seconds: float | None = None) -> None:
        fresh = [p for p in dict.fromkeys(partitions) if p not in self._followed]
        if not fresh or self._closed:
            return
        await self._run(self._assign, fresh, since_seconds)
        self._followed.update(fresh)

    def _assign(self, fresh: list[tuple[str, int]], since_seconds: float | None) -> None:
        # A topic created a moment ago has no leader yet, and a leader may be moving: ask again, for a while.
        deadline = time.monotonic() + _LEADER_WAIT_SECONDS
        while True:
            try:
                return self._assign_once(fresh, since_seconds)
            except KafkaException as error:
                if error.args[0].code() not in _NO_LEADER_YET or time.monotonic() > deadline:
                    raise BusError(f"could not read {fresh}: {error}") from error
                time.sleep(0.2)

    def _assign_once(self, fresh: list[tuple[str, int]], since_seconds: float | None) -> None:
        wanted = [TopicPartition(topic, partition) for topic, partition in fresh]
        if since_seconds is not None:
            since_ms = int((time.time() - since_seconds) * 1000)
            found = self._consumer.offsets_for_times(
                [TopicPartition(p.topic, p.partition, since_ms) for p in wanted], timeout=10
            )
        else:
            found = [TopicPartition(p.topic, p.partition, -1) for p in wanted]
        starts = []
        for p in found:
            _, high = self._consumer.get_watermark_offsets(TopicPartition(p.topic, p.partition), timeout=10)
            # From `since_seconds` back; else (or nothing written since then) from the end, pinned now rather than
            # at the first fetch, so nothing published after follow() returns is skipped.
            start = p.offset if 0 <= p.offset <= high else high
            self._ends[(p.topic, p.partition)] = high
            self._positions[(p.topic, p.partition)] = start
            starts.append(TopicPartition(p.topic, p.partition, start))
        self._consumer.incremental_assign(starts)

    async def unfollow(self, partitions: list[tuple[str, int]]) -> None:
        gone = [p for p in dict.fromkeys(partitions) if p in self._followed]
        if not gone or self._closed:
            return
        await self._run(self._consumer.incremental_unassign, [TopicPartition(t, p) for t, p in gone])
        self._followed.difference_update(gone)
        for partition in gone:
            self._ends.pop(partition, None)
            self._positions.pop(partition, None)

    def _poll(self, timeout: float) -> Message | None:
        message = _message_of(self._consumer.poll(timeout), "reply reader")
        if message is not None:
            self.fetched_bytes += len(message.value) + len(message.key or b"")
            self._positions[(message.topic, message.partition)] = message.offset + 1
        return message

    async def next(self, timeout_seconds: float | None = None) -> Message | None:
        return await _poll_until(self, timeout_seconds)

    async def close(self) -> None:
        await _close(self)


# Presence keeps the latest record per room and gateway (compaction), and forgets a gateway that died within the
# hour (deletion): a reader starting from the beginning reads a few records per room, not the topic's history.
_TOPIC_CONFIG = {
    ROOM_PRESENCE: {"cleanup.policy": "compact,delete", "retention.ms": str(3_600_000), "segment.ms": str(600_000)},
}


class KafkaBus:
    def __init__(self, settings: BusSettings, client_id: str = "babelstream"):
        self._settings = settings
        self._client_id = client_id
        self._producer: Producer | None = None
        self._poller: threading.Thread | None = None
        self._running = False
        self._ready = False
        self._health_task: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # For backlog(): per group, a consumer that never joins it, only reads its commits (made at first use).
        self._lag_readers: dict[str, Consumer] = {}
        self._lag_lock = threading.Lock()

    def _common(self) -> dict:
        return {
            "bootstrap.servers": self._settings.kafka_bootstrap_servers,
            "client.id": self._client_id,
            "log.connection.close": False,
            "error_cb": self._on_client_error,
        }

    def _on_client_error(self, error: KafkaError) -> None:
        # Only all brokers down means the bus is down: on a cluster, one broker's connection failing (_TRANSPORT)
        # is a failover the client rides out, and must not refuse sessions (the health watch decides otherwise).
        if error.code() == KafkaError._ALL_BROKERS_DOWN:
            self._ready = False
        log.debug("kafka client error: %s", error)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self._wait_for_broker()
        await asyncio.to_thread(self._ensure_topics)
        self._producer = Producer(
            {
                **self._common(),
                "acks": "all",
                "enable.idempotence": True,
                "message.max.bytes": limits.MAX_MESSAGE_BYTES,
                "delivery.timeout.ms": self._settings.kafka_delivery_timeout_ms,
                "request.timeout.ms": min(5000, self._settings.kafka_delivery_timeout_ms),
                # No batching delay: an utterance crosses three or four hops and each hop's linger adds up
                # (docs/benchmarks/pipeline-latency.md).
                "linger.ms": 0,
            }
        )
        self._running = True
        self._poller = threading.Thread(target=self._poll_deliveries, name="kafka-delivery", daemon=True)
        self._poller.start()
        self._ready = True
        self._health_task = asyncio.create_task(self._watch_health())

    async def _wait_for_broker(self) -> None:
        deadline = time.monotonic() + self._settings.kafka_startup_timeout_seconds
        delay = 0.25
        admin = AdminClient(self._common())
        while True:
            try:
                await asyncio.to_thread(admin.list_topics, timeout=min(5.0, max(1.0, delay * 2)))
                return
            except KafkaException as error:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise BusError(
                        f"Kafka at {self._settings.kafka_bootstrap_servers} did not answer within "
                        f"{self._settings.kafka_startup_timeout_seconds:.0f} s ({error}). Start it with "
                        "`scripts/kafka.sh start` or set KAFKA_BOOTSTRAP_SERVERS."
                    ) from error
                log.info("waiting for Kafka at %s (%s)", self._settings.kafka_bootstrap_servers, error)
                # Full jitter: many processes restarting together do not hammer the broker in step.
                await asyncio.sleep(min(remaining, random.uniform(0, delay)))
                delay = min(delay * 2, 5.0)

    def _ensure_topics(self) -> None:
        admin = AdminClient(self._common())
        wanted = [
            NewTopic(
                topic,
                # A reply topic is read by partition, one (or a few) per gateway: docs/kafka.md, "Reply routing".
                num_partitions=(
                    self._settings.kafka_reply_partitions if topic in REPLY_TOPICS
                    else self._settings.kafka_topic_partitions
                ),
                replication_factor=self._settings.kafka_replication_factor,
                config={
                    "max.message.bytes": str(limits.MAX_MESSAGE_BYTES),
                    # What acks=all means for this topic: confirmed once this many replicas have the event.
                    "min.insync.replicas": str(self._settings.min_insync_replicas()),
                    **_TOPIC_CONFIG.get(topic, {}),
                },
            )
            for topic in ALL_TOPICS
        ]
        for topic, future in admin.create_topics(wanted, request_timeout=15).items():
            try:
                future.result()
            except KafkaException as error:
                if error.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise BusError(f"could not create topic {topic}: {error}") from error

    def _poll_deliveries(self) -> None:
        while self._running:
            self._producer.poll(0.05)

    async def _watch_health(self) -> None:
        admin = AdminClient(self._common())
        while self._running:
            try:
                await asyncio.to_thread(admin.list_topics, timeout=_HEALTH_INTERVAL_SECONDS)
                self._ready = True
            except KafkaException:
                self._ready = False
            await asyncio.sleep(_HEALTH_INTERVAL_SECONDS)

    def is_ready(self) -> bool:
        return self._ready

    async def backlog(self, group: str, topic: str) -> int | None:
        return await asyncio.to_thread(self._backlog, group, topic)

    def _backlog(self, group: str, topic: str) -> int | None:
        # Read through a consumer (OffsetFetch and the partitions' ends), not the AdminClient: a long-lived admin
        # client whose group-offset requests time out, as they do while the broker is down, can abort the process
        # in librdkafka (confluentinc/librdkafka#4605; a fresh-clone run died so).
        if not self._running or not self._ready:
            return None  # nothing to ask while the broker is unreachable
        with self._lag_lock:  # one query at a time per bus: the readers are not shared across threads
            reader = self._lag_readers.get(group)
            if reader is None:
                reader = self._lag_readers[group] = Consumer(
                    {**self._common(), "group.id": group, "enable.auto.commit": False}
                )
            try:
                found = reader.list_topics(topic=topic, timeout=_LAG_QUERY_SECONDS).topics.get(topic)
                if found is None or found.error is not None or not found.partitions:
                    return None
                partitions = [TopicPartition(topic, partition) for partition in found.partitions]
                committed = [p for p in reader.committed(partitions, timeout=_LAG_QUERY_SECONDS) if p.offset >= 0]
                if not committed:
                    return None  # the group never committed
                return sum(
                    max(0, reader.get_watermark_offsets(p, timeout=_LAG_QUERY_SECONDS)[1] - p.offset)
                    for p in committed
                )
            except KafkaException as error:
                log.debug("backlog of %s on %s unknown: %s", group, topic, error)
                return None

    async def stop(self) -> None:
        if self._health_task:
            self._health_task.cancel()
        if self._producer is not None:
            # Bounded: give in-flight deliveries a chance, off the loop.
            await asyncio.to_thread(self._producer.flush, 5.0)
        self._running = False
        if self._poller:
            self._poller.join(timeout=1)
        with self._lag_lock:  # after a query under way: it holds the lock
            readers, self._lag_readers = list(self._lag_readers.values()), {}
        for reader in readers:
            reader.close()  # never joined its group: leaves nothing to rebalance
        # Dropped, so librdkafka's threads end with it: one kept would reconnect to a stopped broker for as long as
        # the process lives (a bench that stopped its bus and went on logged it every second).
        self._producer = None

    async def partition_count(self, topic: str) -> int:
        def count() -> int:
            metadata = AdminClient(self._common()).list_topics(topic=topic, timeout=10)
            found = metadata.topics.get(topic)
            if found is None or found.error is not None or not found.partitions:
                raise BusError(f"topic {topic} has no partitions the broker would tell of")
            return len(found.partitions)

        try:
            return await asyncio.to_thread(count)
        except KafkaException as error:
            raise BusError(f"partitions of {topic} unknown: {error}") from error

    async def read_partitions(self, name: str) -> KafkaPartitionReader:
        consumer = Consumer(
            {
                **self._common(),
                # Never joins its group nor commits: assignment by hand. librdkafka wants a group id all the same.
                "group.id": name,
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "fetch.max.bytes": _FETCH_BYTES,
                "max.partition.fetch.bytes": _FETCH_BYTES,
                "queued.max.messages.kbytes": _PREFETCH_KBYTES,
                "fetch.wait.max.ms": 10,
            }
        )
        return KafkaPartitionReader(consumer, ThreadPoolExecutor(1, thread_name_prefix=f"kafka-{name}"))

    async def publish(self, topic: str, key: bytes, value: bytes, partition: int | None = None) -> None:
        if self._producer is None:
            raise PublishFailed(topic, "bus not started")
        loop = asyncio.get_running_loop()
        delivered = loop.create_future()

        def on_delivery(error, _message) -> None:
            if error is None:
                loop.call_soon_threadsafe(_resolve, delivered, None)
            else:
                loop.call_soon_threadsafe(_resolve, delivered, PublishFailed(topic, str(error)))

        for _ in range(50):
            try:
                if partition is None:
                    self._producer.produce(topic, value=value, key=key, on_delivery=on_delivery)
                else:
                    self._producer.produce(topic, value=value, key=key, partition=partition, on_delivery=on_delivery)
                break
            except BufferError:
                await asyncio.sleep(0.02)  # local queue full: let the poll thread drain it
            except KafkaException as error:
                raise PublishFailed(topic, str(error)) from error
        else:
            raise PublishFailed(topic, "producer queue stayed full")
        await delivered

    async def subscribe(
        self, topics: list[str], group: str, *, from_latest: bool = False, since_seconds: float | None = None,
        ephemeral: bool = False,
    ) -> KafkaSubscription:
        # ephemeral: nothing is committed, so the broker keeps no offsets for the group once its member leaves.
        consumer = Consumer(
            {
                **self._common(),
                "group.id": group,
                "enable.auto.commit": False,
                "auto.offset.reset": "latest" if from_latest else "earliest",
                "session.timeout.ms": self._settings.kafka_session_timeout_ms,
                "heartbeat.interval.ms": max(500, self._settings.kafka_session_timeout_ms // 5),
                "fetch.max.bytes": _FETCH_BYTES,
                "max.partition.fetch.bytes": _FETCH_BYTES,
                "queued.max.messages.kbytes": _PREFETCH_KBYTES,
                "fetch.wait.max.ms": 10,
            }
        )
        subscription = KafkaSubscription(consumer, ThreadPoolExecutor(1, thread_name_prefix=f"kafka-{group}"))

        def on_assign(consumer: Consumer, partitions: list[TopicPartition]) -> None:
            if since_seconds is not None or from_latest:
                # A partition this consumer had before goes on where it was: a group of this process alone is
                # re-assigned when its coordinator's broker dies (its session times out), and starting again from
                # the end would skip what was published meanwhile, or from `since_seconds` back replay it.
                positions = subscription.positions
                starts = [TopicPartition(p.topic, p.partition, positions[(p.topic, p.partition)])
                          for p in partitions if (p.topic, p.partition) in positions]
                fresh = [p for p in partitions if (p.topic, p.partition) not in positions]
                if fresh:
                    starts += _first_offsets(consumer, fresh, since_seconds)
                for start in starts:
                    if start.offset >= 0:
                        positions.setdefault((start.topic, start.partition), start.offset)
                consumer.assign(starts)
            subscription.assigned.set()

        consumer.subscribe(list(topics), on_assign=on_assign)
        await subscription.wait_assigned(timeout_seconds=30)
        return subscription


def _first_offsets(consumer: Consumer, partitions: list[TopicPartition], since_seconds: float | None) -> list[TopicPartition]:
    """Where a subscription that does not read its group's whole backlog starts on partitions new to it."""
    if since_seconds is not None:
        # The first offset written at or after that moment; a partition with nothing since starts at its end.
        since_ms = int((time.time() - since_seconds) * 1000)
        wanted = [TopicPartition(p.topic, p.partition, since_ms) for p in partitions]
        starts = consumer.offsets_for_times(wanted, timeout=10)
        return [TopicPartition(p.topic, p.partition, p.offset if p.offset >= 0 else OFFSET_END) for p in starts]
    # From the latest: pin the start to the current end now, not at the first fetch, so nothing published after
    # subscribe() returns can be skipped.
    committed = consumer.committed(partitions, timeout=10)
    for partition in committed:
        if partition.offset < 0:
            _, high = consumer.get_watermark_offsets(partition, timeout=10)
            partition.offset = high if high >= 0 else OFFSET_END
    return committed


def _resolve(future: asyncio.Future, error: Exception | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
