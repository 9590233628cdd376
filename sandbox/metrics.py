"""Prometheus metrics of a sandbox worker (``python -m sandbox.worker --metrics-port N``).

Per run: wall time, CPU time and peak memory by language, and the final status. Of the
backend: container create + start latency, warm-pool hits and misses, which sandbox images
are present. Of the queue (sampled every few seconds from Redis, so every worker reports the
same figures): runs waiting and the age of the oldest one. Names start with
``classroom_worker_`` or ``classroom_sandbox_``; deploy/prometheus/alerts.yml uses them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from sandbox.model import RunResult

RUN_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60)
MEMORY_BUCKETS = tuple(float(mb << 20) for mb in (8, 16, 32, 64, 128, 256, 512, 1024, 2048))
START_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class WorkerMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.runs = Counter(
            "classroom_worker_runs", "Finished runs by language and status.",
            ["language", "status"], registry=r,
        )  # fmt: skip
        self.run_seconds = Histogram(
            "classroom_worker_run_seconds", "Wall time of finished runs.", ["language"],
            registry=r, buckets=RUN_BUCKETS,
        )  # fmt: skip
        self.run_cpu_seconds = Histogram(
            "classroom_worker_run_cpu_seconds", "CPU time of finished runs.", ["language"],
            registry=r, buckets=RUN_BUCKETS,
        )  # fmt: skip
        self.run_memory_bytes = Histogram(
            "classroom_worker_run_memory_bytes", "Peak memory of finished runs.", ["language"],
            registry=r, buckets=MEMORY_BUCKETS,
        )  # fmt: skip
        self.container_start = Histogram(
            "classroom_sandbox_container_start_seconds",
            "Create + start of one sandbox container (warm-pool fills included).",
            registry=r, buckets=START_BUCKETS,
        )  # fmt: skip
        self.active = Gauge(
            "classroom_worker_runs_active", "Runs this worker runs now.", registry=r
        )
        self.concurrency = Gauge(
            "classroom_worker_concurrency", "Runs this worker takes at once.", registry=r
        )
        self.queue_depth = Gauge(
            "classroom_worker_queue_depth", "Runs in the stream no worker has taken yet.",
            registry=r,
        )  # fmt: skip
        self.queue_age = Gauge(
            "classroom_worker_queue_oldest_seconds",
            "Age of the oldest run no worker has taken yet (0 when none waits).", registry=r,
        )  # fmt: skip
        self.lost = Counter(
            "classroom_worker_runs_lost",
            "Runs of dead workers this worker found and reported lost.", registry=r,
        )  # fmt: skip
        self.redis_up = Gauge(
            "classroom_worker_redis_up", "1 when the last queue sample reached Redis.", registry=r
        )

    def finished(self, language: str, result: RunResult) -> None:
        self.runs.labels(language, result.status.value).inc()
        self.run_seconds.labels(language).observe(result.wall_ms / 1000)
        if result.cpu_ms is not None:
            self.run_cpu_seconds.labels(language).observe(result.cpu_ms / 1000)
        if result.memory_peak_bytes is not None:
            self.run_memory_bytes.labels(language).observe(result.memory_peak_bytes)

    def watch_backend(self, backend: Any) -> None:
        """Pool and image figures of a Docker backend; other backends have none."""
        if hasattr(backend, "on_container_started"):
            backend.on_container_started = self.container_start.observe
        if hasattr(backend, "pool") and hasattr(backend, "images_present"):
            self.registry.register(_BackendCollector(backend))


class PoolCollector(Collector):
    """Warm-pool figures: hits and misses, and per language the containers waiting, the
    target the pool fills to and the demand it was given (:mod:`sandbox.demand`)."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        pool = self.pool
        hits = CounterMetricFamily(
            "classroom_sandbox_pool_hits", "Runs that took a warm container."
        )
        hits.add_metric([], pool.hits)
        misses = CounterMetricFamily(
            "classroom_sandbox_pool_misses", "Runs that had to create a container."
        )
        misses.add_metric([], pool.misses)
        deferred = CounterMetricFamily(
            "classroom_sandbox_pool_deferred_fills",
            "Fills that waited for the runs in flight to end before creating a container.",
        )
        deferred.add_metric([], pool.deferred)
        ready = GaugeMetricFamily("classroom_sandbox_pool_ready", "Warm containers waiting now.")
        ready.add_metric([], pool.size())
        waiting = GaugeMetricFamily(
            "classroom_sandbox_pool_language_ready",
            "Warm containers waiting now, by language.",
            labels=["language"],
        )
        target = GaugeMetricFamily(
            "classroom_sandbox_pool_target",
            "Warm containers the pool fills to, by language (base or demand, within budget).",
            labels=["language"],
        )
        for language, n in sorted(pool.targets().items()):
            target.add_metric([language], n)
            waiting.add_metric([language], pool.size(language))
        demand = GaugeMetricFamily(
            "classroom_sandbox_pool_demand",
            "Students who may run at once (rooms with a lesson on), by language.",
            labels=["language"],
        )
        for language, n in sorted(pool.demand().items()):
            demand.add_metric([language], n)
        yield from (hits, misses, deferred, ready, waiting, target, demand)


class _BackendCollector(PoolCollector):
    def __init__(self, backend: Any) -> None:
        super().__init__(backend.pool)
        self.backend = backend

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        yield from super().collect()
        present = GaugeMetricFamily(
            "classroom_sandbox_image_present",
            "1 when the language's sandbox image is on the engine, else 0.",
            labels=["language"],
        )
        for language, there in sorted(self.backend.images_present.items()):
            present.add_metric([language], 1 if there else 0)
        yield present
