"""Prometheus metrics of one gateway (its own registry, so several gateways can live in one test process)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily


class HotCounter:
    """A counter for the per-frame path: `inc` adds to a plain int (the event loop is its only writer), and the
    registry reads it when scraped. prometheus_client's Counter takes a lock per `inc`, which costs more than the
    addition, 50 times a second per stream."""

    def __init__(self, name: str, documentation: str, registry: CollectorRegistry):
        self._name = name
        self._documentation = documentation
        self.value = 0
        registry.register(self)

    def inc(self, amount: int = 1) -> None:
        self.value += amount

    def collect(self):
        yield CounterMetricFamily(self._name, self._documentation, value=self.value)


class RefusalCounts:
    """Sockets refused before they were a session, by reason: read from the socket limits' own counts at scrape
    time (they are kept where the refusals happen, on the HTTP protocol's path)."""

    def __init__(self, counts: Mapping[str, int], registry: CollectorRegistry):
        self._counts = counts
        registry.register(self)

    def collect(self):
        family = CounterMetricFamily(
            "babelstream_gateway_socket_refusals",
            "Sockets refused before the upgrade (max_sockets, connections_per_ip, handshakes_per_ip, "
            "header_too_large, handshake_timeout)",
            labels=["reason"],
        )
        for reason, count in sorted(self._counts.items()):
            family.add_metric([reason], count)
        yield family


class ResultReads:
    """What the result router has read from the bus, read from its reader at scrape time: with reply routing it grows
    with this gateway's sessions and rooms, not with the number of gateways (docs/benchmarks/results-routing.md)."""

    def __init__(self, read_bytes: Callable[[], int], partitions: Callable[[], int], registry: CollectorRegistry):
        self._read_bytes = read_bytes
        self._partitions = partitions
        registry.register(self)

    def collect(self):
        yield CounterMetricFamily(
            "babelstream_gateway_result_bytes_read", "Bytes of result events read from the bus (keys and values)",
            value=self._read_bytes(),
        )
        yield GaugeMetricFamily(
            "babelstream_gateway_reply_partitions", "Reply partitions this gateway reads (its own and its rooms')",
            value=self._partitions(),
        )


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.open_connections = Gauge(
            "babelstream_gateway_open_connections", "Sessions open now, on every door (one MAX_CONNECTIONS pool)",
            registry=self.registry,
        )
        # transport: the door (`websocket`: /ws/audio and /ws/listen; `grpc`: the Translate call)
        self.sessions = Counter(
            "babelstream_gateway_sessions_total", "Sessions admitted, by transport", ["transport"],
            registry=self.registry,
        )
        self.rejections = Counter(
            "babelstream_gateway_rejections_total",
            "Sessions refused or ended by a limit, by reason and transport",
            ["reason", "transport"],
            registry=self.registry,
        )
        self.bytes_received = HotCounter(
            "babelstream_gateway_bytes_received", "Audio bytes received from clients", registry=self.registry
        )
        self.publish_latency = Histogram(
            "babelstream_gateway_publish_seconds",
            "Time from publish to broker confirmation",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.publish_failures = Counter(
            "babelstream_gateway_publish_failures_total",
            "Events the bus did not confirm after the bounded retry",
            registry=self.registry,
        )
        self.segments = Counter(
            "babelstream_gateway_segments_total", "Utterances cut from live streams and published", registry=self.registry
        )
        self.results_sent = Counter(
            "babelstream_gateway_results_sent_total",
            "Result messages sent back to clients, by type",
            ["type"],
            registry=self.registry,
        )
        self.partials_revised = Counter(
            "babelstream_gateway_partials_revised_total",
            "Final transcripts that disagreed with the stable text already sent in partials (revised: true)",
            registry=self.registry,
        )
        self.resumes = Counter(
            "babelstream_gateway_resumes_total",
            "Sessions taken up again on this gateway (a resume accepted and read back from the bus); a refused resume is "
            "a rejection (reason resume_refused)",
            registry=self.registry,
        )
        self.replayed_results = Counter(
            "babelstream_gateway_replayed_results_total",
            "Result events read back from the bus for resumed sessions and sent again (the client had not listed them)",
            registry=self.registry,
        )
        self.speculations = Counter(
            "babelstream_gateway_speculations_total",
            "Utterances published at a short pause, by outcome: committed (the pause held), committed_early "
            "(the transcript showed a finished sentence), withdrawn (the speaker went on), skipped_busy (not made: the ASR "
            "stage was behind, SPECULATE_MAX_ASR_BACKLOG), skipped_long (not made: the utterance was longer than "
            "SPECULATE_MAX_UTTERANCE_MS)",
            ["outcome"],
            registry=self.registry,
        )
        self.rooms = Gauge("babelstream_gateway_rooms", "Rooms with a member on this gateway", registry=self.registry)
        self.listeners = Gauge(
            "babelstream_gateway_listeners", "Listeners connected to this gateway (/ws/listen)", registry=self.registry
        )
        self.room_deliveries = Counter(
            "babelstream_gateway_room_deliveries_total",
            "Result messages given to room members (one per member), by type",
            ["type"],
            registry=self.registry,
        )
        self.listener_audio_dropped = Counter(
            "babelstream_gateway_listener_audio_dropped_total",
            "Spoken translations not sent to a listener that was not keeping up",
            registry=self.registry,
        )
        self.listener_partials_dropped = Counter(
            "babelstream_gateway_listener_partials_dropped_total",
            "Interim results (partial, partial_translation) not sent to a listener that was behind",
            registry=self.registry,
        )

    def watch_socket_refusals(self, counts: Mapping[str, int]) -> None:
        RefusalCounts(counts, self.registry)

    def watch_result_reads(self, read_bytes: Callable[[], int], partitions: Callable[[], int]) -> None:
        ResultReads(read_bytes, partitions, self.registry)
