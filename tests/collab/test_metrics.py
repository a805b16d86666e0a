"""Prometheus metrics: counted per registry; two servers in one process do not clash."""

from __future__ import annotations

from prometheus_client import CollectorRegistry
from pycrdt import Doc, Text

from collab import CollabServer, MemoryStore, Persistence
from collab.metrics import CollabMetrics
from collab.protocol import encode_update
from tests.collab._kit import FAST, doc_name, running, wait_for


def test_same_registry_same_metrics_and_two_servers_coexist() -> None:
    registry = CollectorRegistry()
    assert CollabMetrics.for_registry(registry) is CollabMetrics.for_registry(registry)
    CollabServer(FAST, metrics_registry=registry)
    CollabServer(FAST, metrics_registry=registry)  # no "Duplicated timeseries"
    CollabServer(FAST)
    CollabServer(FAST)  # the process default registry, twice


async def test_metrics_follow_the_traffic() -> None:
    doc: Doc = Doc()
    doc["t"] = Text("x")
    registry = CollectorRegistry()
    persistence = Persistence(MemoryStore(), flush_interval=0.001,
                              metrics=CollabMetrics.for_registry(registry))
    async with running(FAST, [persistence], registry=registry) as h:
        name = doc_name()
        client = await h.connect(name)
        await client.recv()
        assert registry.get_sample_value("collab_connections") == 1
        await client.send(encode_update(doc.get_update()))
        await client.send(b"\x09")
        assert await client.wait_closed() == 1002
        await wait_for(lambda: registry.get_sample_value("collab_connections") == 0)
        assert registry.get_sample_value("collab_messages_in_total", {"type": "update"}) == 1
        assert registry.get_sample_value("collab_closes_total",
                                         {"code": "1002", "reason": "protocol_error"}) == 1
        assert (registry.get_sample_value("collab_messages_out_total") or 0) >= 1
        assert (registry.get_sample_value("collab_fanout_seconds_count") or 0) == 1
        await wait_for(lambda: (registry.get_sample_value("collab_store_seconds_count")
                                or 0) >= 1)
