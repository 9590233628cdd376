"""The classroom simulation's tables: one column per deployment (one process, two processes),
latencies with p50 / p95 / p99 / max and counts, the targets and whether each is met, errors by
kind, the servers' CPU and memory, and the load generators' own CPU and timer lateness."""

from __future__ import annotations

import math
import os
from typing import Any

from classroom_metrics import LOOP_LAG_WARN_SECONDS, METRICS, TARGETS

SATURATED = 85.0  # % of one core: above this a generator may be the bottleneck
# Share of the machine's cores busy above which the runs (niceness 10, below the servers and
# the generators) wait for a core: run and fan-out latencies then measure the machine.
MACHINE_SATURATED = 0.85


def ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.1f}"


def latency_cell(stats: dict[str, float]) -> str:
    if not stats["n"]:
        return "no samples"
    return (
        f"{ms(stats['p50'])} / {ms(stats['p95'])} / {ms(stats['p99'])} / {ms(stats['max'])}"
        f" (n={stats['n']})"
    )


def target_text(metric: str) -> str:
    if metric not in TARGETS:
        return ""
    key, limit = TARGETS[metric]
    return f"{key} ≤ {limit:.0f} ms"


def verdict(result: dict[str, Any], metric: str) -> str:
    met = result["verdicts"].get(metric)
    return "" if met is None else (" ✓" if met else " ✗")


def lag_cell(server: dict[str, Any]) -> str:
    """The server's loop-lag figures (bucket bounds, so ``≤``), or why there are none."""
    lag = server.get("loop_lag")
    if not lag:
        return "not read (no /metrics)"
    return (
        f"≤ {bound_ms(lag['p99_ms'])} / ≤ {bound_ms(lag['max_ms'])} ms;"
        f" {lag['over_warning']:.0f} of {lag['samples']:.0f} samples over"
        f" {LOOP_LAG_WARN_SECONDS * 1000:g} ms"
    )


def bound_ms(value: float) -> str:
    return "∞" if math.isinf(value) else f"{value:g}"


def resource_rows(result: dict[str, Any]) -> list[tuple[str, str]]:
    rows = []
    for server in result["servers"]:
        rows.append(
            (
                f"server {server['name']} CPU % / RSS MiB (peak)",
                f"{server['cpu']:.0f} % / {server['rss_mib']:.0f}"
                f" (peak {server['rss_peak_mib']:.0f})",
            )
        )
    for server in result["servers"]:
        rows.append((f"server {server['name']} event loop lag p99 / max", lag_cell(server)))
    total = sum(s["cpu"] for s in result["servers"])
    rows.append(("servers CPU total", f"{total:.0f} % of one core"))
    for name, cpu in result["helpers"].items():
        rows.append((f"{name} CPU", f"{cpu:.0f} %"))
    gens = result["generators"]
    busiest = max(g["cpu"] for g in gens)
    flag = " (SATURATED: use more --generators)" if busiest > SATURATED else ""
    rows.append(
        (
            f"load generators ({len(gens)}) CPU",
            " + ".join(f"{g['cpu']:.0f}" for g in gens) + f" % of one core{flag}",
        )
    )
    rows.append(
        ("generator timer lag p99 / max ms", f"{ms(result['lag_p99'])} / {ms(result['lag_max'])}")
    )
    rows.append(
        (
            "machine: load average before / after",
            f"{result['load_before']} / {result['load_after']}",
        )
    )
    cores = os.cpu_count() or 1
    busy = result["machine_cores"]
    flag = (
        f" of {cores} (SATURATED: runs wait for a core; latencies measure the machine)"
        if busy >= MACHINE_SATURATED * cores
        else f" of {cores}"
    )
    rows.append(("machine: busy cores (all processes)", f"{busy:.2f}{flag}"))
    return rows


def table(results: list[dict[str, Any]]) -> str:
    """A markdown table: one row per metric, one column per deployment."""
    heads = [r["label"] for r in results]
    lines = [
        "| metric (ms: p50 / p95 / p99 / max) | target | " + " | ".join(heads) + " |",
        "|---|---|" + "---|" * len(results),
    ]
    for metric, title in METRICS.items():
        cells = [latency_cell(r["stats"][metric]) + verdict(r, metric) for r in results]
        lines.append(f"| {title} | {target_text(metric)} | " + " | ".join(cells) + " |")
    cells = []
    for r in results:
        total = sum(r["errors"].values())
        kinds = "; ".join(f"{k}: {v}" for k, v in sorted(r["errors"].items()))
        cells.append(f"{total}{verdict(r, 'errors')}" + (f" ({kinds})" if kinds else ""))
    lines.append("| errors | 0 | " + " | ".join(cells) + " |")
    keys = sorted({k for r in results for k in r["counts"]})
    for key in keys:
        lines.append(
            f"| {key} (in window) | | "
            + " | ".join(str(r["counts"].get(key, 0)) for r in results)
            + " |"
        )
    per_result = [dict(resource_rows(r)) for r in results]
    # Every deployment's rows: the two-process column has server 1's too, which go after
    # the row they follow there (server 0's), not at the table's end.
    names: list[str] = []
    for rows in per_result:
        at = 0
        for name in rows:
            if name in names:
                at = names.index(name) + 1
            else:
                names.insert(at, name)
                at += 1
    for name in names:
        cells = [rows.get(name, "-") for rows in per_result]
        lines.append(f"| {name} | | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def second_process(one: dict[str, Any], two: dict[str, Any]) -> str:
    """What the second process (and Redis, PostgreSQL, the worker) adds, in words."""
    parts = []
    for metric, title in METRICS.items():
        a, b = one["stats"][metric], two["stats"][metric]
        if a["n"] and b["n"]:
            parts.append(
                f"- {title}: p50 {ms(a['p50'])} → {ms(b['p50'])} ms "
                f"({b['p50'] - a['p50']:+.1f}), p99 {ms(a['p99'])} → {ms(b['p99'])} ms "
                f"({b['p99'] - a['p99']:+.1f})"
            )
    cpu_one = sum(s["cpu"] for s in one["servers"])
    cpu_two = sum(s["cpu"] for s in two["servers"])
    extra = sum(two["helpers"].values())
    split = " + ".join(f"{s['cpu']:.0f}" for s in two["servers"])
    parts.append(
        f"- server CPU: {cpu_one:.0f} % in one process → {cpu_two:.0f} % over two "
        f"({split}), plus {extra:.0f} % "
        "in the helpers (PostgreSQL's backends, Redis, the sandbox worker and its runs)"
    )
    rss_one = sum(s["rss_mib"] for s in one["servers"])
    rss_two = sum(s["rss_mib"] for s in two["servers"])
    parts.append(f"- server RSS: {rss_one:.0f} MiB → {rss_two:.0f} MiB in total")
    errors = (sum(one["errors"].values()), sum(two["errors"].values()))
    parts.append(f"- errors: {errors[0]} → {errors[1]}")
    return "What the second process adds (two minus one):\n" + "\n".join(parts)
