"""/metrics serves the gateway's registry and, in embedded mode, the stages' beside it, brought up to date first."""

from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, Counter

from babelstream.bus.memory import MemoryBus
from babelstream.contracts.codec import SingleObjectCodec
from babelstream.gateway.gateway import Gateway
from babelstream.gateway.http_app import create_app
from babelstream.gateway.settings import GatewaySettings
from babelstream.segmentation import SegmentationSettings, endpointer_factory


def test_the_stages_metrics_are_served_beside_the_gateways_and_refreshed_per_scrape():
    gateway = Gateway(GatewaySettings(), MemoryBus(), SingleObjectCodec(), endpointer_factory(SegmentationSettings()))
    stages = CollectorRegistry()
    scrapes = Counter("babelstream_test_scrapes", "scrapes seen by the refresher", registry=stages)

    async def refresh() -> None:
        scrapes.inc()

    app = create_app(gateway, more_metrics=(stages,), before_scrape=refresh)
    client = TestClient(app, base_url="http://127.0.0.1:8000")  # the gateway's own (loopback) origin
    first, second = client.get("/metrics").text, client.get("/metrics").text
    assert "babelstream_gateway_open_connections" in first
    assert "babelstream_test_scrapes_total 1.0" in first and "babelstream_test_scrapes_total 2.0" in second
