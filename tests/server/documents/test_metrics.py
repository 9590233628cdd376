"""The lock-free counters and histograms of the document sockets (server/documents/metrics.py)
look, at a scrape, exactly like the prometheus_client counters and histograms they replaced."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from server.documents.metrics import FANOUT_BUCKETS, DocMetrics, LoopCounters


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


def test_a_loop_histogram_is_scraped_as_a_prometheus_histogram_of_its_name() -> None:
    """The same observations (on a bound, between bounds, past the last, none at all in some
    buckets) give the very same lines, its creation time included."""
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    histograms = LoopCounters(ours)
    waits = histograms.histogram("classroom_test_wait_seconds", "Waits.", FANOUT_BUCKETS)
    histograms.register()
    reference = Histogram(
        "classroom_test_wait_seconds", "Waits.", registry=theirs, buckets=FANOUT_BUCKETS
    )
    assert exposition(ours) == exposition(theirs)  # nothing observed yet
    for seconds in (0.0, 0.0001, 0.00015, 0.0003, 0.0031, 0.0031, 0.4, 1.0, 2.5, 30.0):
        waits.observe(seconds)
        reference.observe(seconds)
    assert exposition(ours) == exposition(theirs)
    assert 'classroom_test_wait_seconds_bucket{le="0.0001"} 2.0' in exposition(ours)
    assert "classroom_test_wait_seconds_count 10.0" in exposition(ours)
    created = [
        line
        for line in generate_latest(ours).decode().splitlines()
        if line.startswith("classroom_test_wait_seconds_created ")
    ]
    assert len(created) == 1 and abs(float(created[0].split(" ")[1]) - waits.created) < 1e-3
