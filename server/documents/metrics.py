"""Prometheus metrics of the document sockets of one process."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class DocMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.sockets = Gauge(
            "classroom_doc_sockets", "Open document sockets (/yjs).", registry=registry
        )
        self.rooms = Gauge(
            "classroom_doc_rooms_loaded", "Rooms with a document in memory.", registry=registry
        )
        self.documents = Gauge("classroom_docs_loaded", "Documents in memory.", registry=registry)
        self.updates_in = Counter(
            "classroom_doc_updates_in",
            "Document updates received from local clients.",
            registry=registry,
        )
        self.updates_out = Counter(
            "classroom_doc_updates_out",
            "Document update frames sent to clients.",
            registry=registry,
        )
        self.bytes_in = Counter(
            "classroom_doc_bytes_in", "Bytes received on document sockets.", registry=registry
        )
        self.bytes_out = Counter(
            "classroom_doc_bytes_out", "Bytes queued to document sockets.", registry=registry
        )
        self.direct_declined = Counter(
            "classroom_doc_direct_declined",
            "Frames that could not be written straight to the socket (a slow reader or a "
            "closing socket) and took the ASGI send instead (server/documents/direct.py).",
            registry=registry,
        )
        self.direct_readers = Gauge(
            "classroom_doc_direct_readers",
            "Document sockets whose frames are handed over from the ASGI server's data "
            "callback rather than by an ASGI receive each (server/documents/direct.py).",
            registry=registry,
        )
        self.keepalives = Counter(
            "classroom_doc_keepalives",
            "Empty awareness frames sent to document sockets that were sent nothing for a "
            "while, so stock providers do not reconnect (server/documents/keepalive.py).",
            registry=registry,
        )
        self.fanout = Histogram(
            "classroom_doc_fanout_seconds",
            "From receiving a frame to handing it to each recipient's socket.",
            registry=registry,
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
        )
