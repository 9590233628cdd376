"""The lock-free counters of the document sockets (server/documents/metrics.py) look, at a
scrape, exactly like the prometheus_client counters they replaced."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Counter, generate_latest

from server.documents.metrics import DocMetrics, LoopCounters


def exposition(registry: CollectorRegistry) -> list[str]:
    """The scrape's lines, with the counters' creation times left out."""
    return [
        line for line in generate_latest(registry).decode().splitlines() if "_created " not in line
    ]


def test_a_loop_counter_is_scraped_as_a_prometheus_counter_of_its_name() -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    counters = LoopCounters(ours)
    sent = counters.counter("classroom_test_frames", "Frames sent.")
    counters.register()
    reference = Counter("classroom_test_frames", "Frames sent.", registry=theirs)
    for amount in (1, 5, 0, 120):
        sent.inc(amount)
        reference.inc(amount)
    assert sent.value == 126
    assert exposition(ours) == exposition(theirs)
    created = [
        line
        for line in generate_latest(ours).decode().splitlines()
        if line.startswith("classroom_test_frames_created ")
    ]
    assert len(created) == 1 and float(created[0].split(" ")[1]) > 0


def test_a_loop_counter_refuses_to_go_down() -> None:
    counters = LoopCounters(CollectorRegistry())
    sent = counters.counter("classroom_test_frames", "Frames sent.")
    sent.inc(2)
    with pytest.raises(ValueError, match="non-negative"):
        sent.inc(-1)
    assert sent.value == 2


def test_the_document_counters_are_scraped_and_their_names_are_checked() -> None:
    registry = CollectorRegistry()
    metrics = DocMetrics(registry)
    metrics.updates_in.inc(3)
    metrics.bytes_out.inc(40)
    lines = exposition(registry)
    assert "classroom_doc_updates_in_total 3.0" in lines
    assert "classroom_doc_bytes_out_total 40.0" in lines
    assert "classroom_doc_updates_out_total 0.0" in lines
    assert "# TYPE classroom_doc_bytes_in_total counter" in lines
    # A second set in the same registry clashes by name, as prometheus_client counters do.
    clash = LoopCounters(registry)
    clash.counter("classroom_doc_bytes_in", "again")
    with pytest.raises(ValueError, match="Duplicated"):
        clash.register()
