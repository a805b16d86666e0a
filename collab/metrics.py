"""Prometheus metrics of the collab server.

Metrics are registered on the ``CollectorRegistry`` given to ``CollabMetrics.for_registry``
(the process default ``REGISTRY`` when none). Registration happens once per registry: a second
server in the same process (tests, or two apps) shares the same collectors instead of failing
with "Duplicated timeseries".
"""

from __future__ import annotations

import threading
import weakref
from typing import ClassVar

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["CollabMetrics"]

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class CollabMetrics:
    """The collab server's collectors on one registry.

    Attributes:
        connections: open WebSocket connections (authenticated and registered).
        documents: documents loaded in memory.
        messages_in / messages_out: y-websocket frames, by ``type`` (sync, update, awareness,
            query_awareness).
        bytes_in / bytes_out: frame bytes.
        store_latency: seconds per ``DocumentStore.append`` batch (group commit).
        fanout_latency: seconds to apply an update and queue it to every local connection.
        closes: connections closed, by ``code`` and ``reason``.
        panics: Rust panics inside pycrdt (each poisoned a Doc, which was then rebuilt).
    """

    _lock: ClassVar[threading.Lock] = threading.Lock()
    _by_registry: ClassVar[weakref.WeakKeyDictionary[CollectorRegistry, CollabMetrics]] = (
        weakref.WeakKeyDictionary()
    )

    def __init__(self, registry: CollectorRegistry) -> None:
        """Register new collectors on ``registry``; prefer ``for_registry``."""
        self.connections = Gauge(
            "collab_connections", "Open collab WebSocket connections", registry=registry
        )
        self.documents = Gauge(
            "collab_documents_loaded", "Collab documents loaded in memory", registry=registry
        )
        self.messages_in = Counter(
            "collab_messages_in", "Frames received", ["type"], registry=registry
        )
        self.messages_out = Counter("collab_messages_out", "Frames sent", registry=registry)
        self.bytes_in = Counter("collab_bytes_in", "Frame bytes received", registry=registry)
        self.bytes_out = Counter("collab_bytes_out", "Frame bytes sent", registry=registry)
        self.store_latency = Histogram(
            "collab_store_seconds",
            "Seconds per DocumentStore append batch",
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.fanout_latency = Histogram(
            "collab_fanout_seconds",
            "Seconds to apply an update and queue it to local connections",
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.closes = Counter(
            "collab_closes", "Connections closed", ["code", "reason"], registry=registry
        )
        self.panics = Counter(
            "collab_panics", "pycrdt panics (the Doc was dropped and rebuilt)", registry=registry
        )
        self._in_by_type: dict[str, Counter] = {}

    def received(self, kind: str, size: int) -> None:
        """Count one received frame of message type ``kind`` (``labels()`` takes a lock and
        builds a key on every call: each type's child is looked up once)."""
        child = self._in_by_type.get(kind)
        if child is None:
            child = self._in_by_type[kind] = self.messages_in.labels(type=kind)
        child.inc()
        self.bytes_in.inc(size)

    @classmethod
    def for_registry(cls, registry: CollectorRegistry | None = None) -> CollabMetrics:
        """The metrics registered on ``registry`` (default: the process ``REGISTRY``).

        Idempotent: the same registry always yields the same instance.
        """
        target = REGISTRY if registry is None else registry
        with cls._lock:
            found = cls._by_registry.get(target)
            if found is None:
                found = cls(target)
                cls._by_registry[target] = found
            return found
