"""``bench/docs_bench.py --probe``: where our server's time goes for each live update.

The probe itself is ``bench/live_probe/sitecustomize.py``, which our server's interpreter loads
at start when that folder is on its ``PYTHONPATH``; this module sets that up and summarizes
what it wrote: for the updates of the run (warm-up included), the median and 90th percentile
of each part, in microseconds. The clock starts when the document takes the frame
(``LoadedDocument.receive``), after the socket read it and its budget let it through.
"""

from __future__ import annotations

import json
from pathlib import Path

PROBE_DIR = Path(__file__).resolve().parent / "live_probe"
PARTS = (
    ("taken by the document → its first send", 1),
    ("  read, checked, applied (DocumentSync.receive)", 2),
    ("  committed (DocStore.append)", 3),
    ("  the rest before the first send", None),
    ("each send (DirectWriter.write)", None),
    ("taken by the document → its last send", 0),
)


def probe_env(path: Path) -> dict[str, str]:
    """The environment that has our server write its probe's rows to ``path``."""
    return {"PYTHONPATH": str(PROBE_DIR), "CLASSROOM_BENCH_PROBE": str(path)}


def _percentiles(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return ordered[len(ordered) // 2], ordered[int(len(ordered) * 0.9)]


def probe_report(path: Path, label: str) -> str:
    """The probe's figures for one run, as lines of text (a note when it wrote nothing)."""
    try:
        rows: list[list[float]] = json.loads(path.read_text())
    except (OSError, ValueError):
        return f"  probe {label}: nothing written (fewer than 500 updates, or the probe failed)"
    columns: dict[str, list[float]] = {}
    for name, index in PARTS:
        if index is not None:
            columns[name] = [row[index] for row in rows]
    rest = [row[1] - row[2] - row[3] for row in rows]
    columns["  the rest before the first send"] = rest
    columns["each send (DirectWriter.write)"] = [row[4] / row[5] for row in rows if row[5]]
    sends = sorted(int(row[5]) for row in rows)
    lines = [
        f"  probe {label}: {len(rows):,} updates from local sockets, "
        f"{sends[len(sends) // 2]} sends each (median); µs, p50 / p90:"
    ]
    for name, _ in PARTS:
        if not columns[name]:
            lines.append(f"    {name:<50} -")
            continue
        p50, p90 = _percentiles(columns[name])
        lines.append(f"    {name:<50} {p50 * 1e6:8.1f} / {p90 * 1e6:8.1f}")
    return "\n".join(lines)
