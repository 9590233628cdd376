"""``bench/docs_report.py``: the warning when the load generator was the bottleneck (it names
exactly the runs at or above the threshold, and leaves the median rows out), issue 17's
targets, the CPU split, and our server's own hand-off time read from two scrapes of its metrics."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from docs_report import (
    LOADGEN_SATURATED_PERCENT,
    Handoff,
    Row,
    Scrape,
    cells,
    cpu_split,
    handoff_between,
    handoff_scrape,
    markdown_report,
    medians,
    saturation_warning,
    target_verdicts,
)
from docs_servers import SCENARIOS


def run(server: str, loadgen_cpu: float) -> Row:
    result: dict[str, Any] = {
        "latencyMs": {"p50": 1.0, "p99": 5.0, "max": 9.0},
        "deliveriesPerSecond": 100.0,
        "expectedPerSecond": 100.0,
        "lost": 0,
        "loadgen": {"cpuPercent": loadgen_cpu, "eventLoopDelayP99Ms": 1.0},
    }
    return Row(server, SCENARIOS["big"], result, 100.0, 100.0, 20.0, 1.0)


def test_the_warning_names_the_saturated_runs_only() -> None:
    rows = [run("ours", 92.0), run("reference", LOADGEN_SATURATED_PERCENT), run("ours", 60.0)]
    warning = saturation_warning(rows + medians(rows))
    assert "in 2 of 3 runs" in warning
    assert "ours/big 92 %" in warning and "reference/big 85 %" in warning
    assert "60 %" not in warning and "median" not in warning


def test_no_warning_when_the_load_generator_kept_up() -> None:
    assert saturation_warning([run("ours", 60.0), run("reference", 84.9)]) == ""


def timed(server: str, p50: float, p99: float, cpu: float, rss: float) -> Row:
    row = run(server, 50.0)
    row.scenario = SCENARIOS["many"]
    row.result["latencyMs"] = {"p50": p50, "p99": p99, "max": p99 * 2}
    row.cpu_percent, row.rss_peak_mib = cpu, rss
    return row


def test_targets_compare_medians_and_give_the_cpu_ratio_run_by_run() -> None:
    rows = [
        timed("reference", 0.50, 9.0, 20.0, 95.0),
        timed("ours", 0.60, 8.0, 22.0, 137.0),
        timed("ours", 0.62, 8.5, 26.0, 136.0),
        timed("reference", 0.52, 9.5, 20.0, 94.0),
    ]
    (verdict,) = target_verdicts(rows + medians(rows))
    lines = verdict.splitlines()
    assert lines[0] == "targets, many (ours / the reference, medians of 2 and 2 runs):"
    assert lines[1] == "  p50 0.61 / 0.51 ms (at or below): NOT met (+0.10 ms)"
    assert lines[2] == "  p99 8.25 / 9.25 ms (at or below): met (-1.00 ms)"
    # medians 24.0 / 20.0; the runs paired in the order measured
    assert lines[3] == (
        "  server CPU 24.0 / 20.0 % of a core: 1.20x (at most 1.2x): met; run by run 1.10x, 1.30x"
    )
    assert lines[4] == "  RSS peak with 1,000 clients 137 / 95 MiB: 1.44x (at most 1.5x): met"


def test_targets_need_both_servers_and_say_not_met_past_the_bound() -> None:
    assert target_verdicts([timed("ours", 0.6, 8.0, 22.0, 137.0)]) == []
    (verdict,) = target_verdicts(
        [timed("ours", 0.4, 8.0, 25.0, 150.0), timed("reference", 0.5, 9.0, 20.0, 95.0)]
    )
    assert "1.25x (at most 1.2x): NOT met" in verdict
    assert "1.58x (at most 1.5x): NOT met" in verdict


def exposition(counts: dict[str, int], declined: int) -> str:
    """A /metrics text with the fan-out histogram's cumulative bucket counts."""
    lines = ["# HELP classroom_doc_fanout_seconds From receiving a frame ..."]
    lines += [f'classroom_doc_fanout_seconds_bucket{{le="{le}"}} {n}.0' for le, n in counts.items()]
    lines += ["classroom_doc_fanout_seconds_count 9.0", 'other_metric_bucket{le="0.5"} 7.0']
    lines += [f"classroom_doc_direct_declined_total {declined}.0"]
    lines += ["classroom_doc_direct_declined_created 1.7e9"]
    return "\n".join(lines)


def test_the_hand_off_is_read_from_the_buckets_filled_between_two_scrapes() -> None:
    bounds = ("0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "+Inf")

    def scrape(*counts: int, declined: int = 0) -> Scrape:
        return handoff_scrape(exposition(dict(zip(bounds, counts, strict=True)), declined))

    before = scrape(50, 60, 60, 60, 60, 60, 60, 60, declined=3)
    assert before.buckets[0.0005] == 50 and before.buckets[float("inf")] == 60
    assert len(before.buckets) == 8 and before.declined == 3
    # 200 in the window: 100 within 0.5 ms, 80 more within 1 ms, 10 within 2.5, 6 within
    # 10, 3 within 25 ms and one past the last bucket; 4 frames waited for a slow reader.
    after = scrape(150, 240, 250, 250, 256, 259, 259, 260, declined=7)
    handoff = handoff_between(before, after)
    assert handoff == Handoff(p50_ms=0.5, p99_ms=25.0, slow_percent=2.0, slow_reader_frames=4)
    late = handoff_between(after, scrape(150, 240, 250, 250, 256, 259, 259, 262, declined=7))
    assert late is not None and late.p99_ms == float("inf") and late.slow_percent == 100.0
    assert handoff_between(after, after) is None  # nothing sent in the window
    row = run("ours", 50.0)
    row.handoff = handoff
    assert cells(row)[-4:] == ["<=0.5 / <=25", "2.00", "4", "-"]  # no commit-wait histogram
    assert cells(run("reference", 50.0))[-4:] == ["-", "-", "-", "-"]


def test_the_commit_wait_is_read_beside_the_hand_off() -> None:
    hand = ("0.001", "0.01", "+Inf")
    commit = ("0.0001", "0.00025", "0.0005", "0.001", "0.005", "+Inf")

    def scrape(handed: tuple[int, ...], committed: tuple[int, ...]) -> Scrape:
        text = exposition(dict(zip(hand, handed, strict=True)), 0)
        text += "\n" + "\n".join(
            f'classroom_doc_commit_wait_seconds_bucket{{le="{le}"}} {n}.0'
            for le, n in zip(commit, committed, strict=True)
        )
        return handoff_scrape(text)

    before = scrape((10, 10, 10), (10, 10, 10, 10, 10, 10))
    # 100 commits in the window: 60 within 0.1 ms, 35 more within 0.5 ms, 4 within 5 ms, one
    # past the last bucket.
    after = scrape((110, 110, 110), (70, 70, 105, 105, 109, 110))
    handoff = handoff_between(before, after)
    assert handoff is not None
    assert (handoff.commit_p50_ms, handoff.commit_p99_ms) == (0.1, 5.0)
    row = run("ours", 50.0)
    row.handoff = handoff
    assert cells(row)[-1] == "<=0.1 / <=5"


def test_the_median_row_takes_the_median_hand_off() -> None:
    rows = [run("ours", 50.0) for _ in range(3)]
    figures = ((5.0, 0.1, 0.0), (250.0, 9.0, 4000.0), (25.0, 1.5, 12.0))
    for row, (p99, slow, frames) in zip(rows, figures, strict=True):
        row.handoff = Handoff(1.0, p99, slow, frames, 0.1, p99 / 5)
    (median,) = medians(rows)
    assert median.handoff == Handoff(1.0, 25.0, 1.5, 12.0, 0.1, 5.0)


def test_the_cpu_split_shows_each_run_and_median_in_user_space_and_in_the_kernel() -> None:
    rows = [run("ours", 60.0), run("ours", 60.0), run("ours", 60.0)]
    for row, user in zip(rows, (12.0, 15.0, 14.0), strict=True):
        row.user_percent = user  # of each run's 20.0 % of a core
    rows.append(run("reference", 60.0))  # no split measured: left out
    split = cpu_split(rows + medians(rows))
    assert "ours/big: 20.0 = user 12.0 + kernel 8.0" in split
    assert "ours/big: 20.0 = user 15.0 + kernel 5.0" in split
    assert "ours (median of 3)/big: 20.0 = user 14.0 + kernel 6.0" in split
    assert "reference" not in split
    assert cpu_split([run("reference", 60.0)]) == ""


def test_the_markdown_report_holds_the_table_the_split_and_the_verdicts() -> None:
    rows = [run("ours", 60.0), run("reference", 60.0)]
    rows[0].user_percent = 12.0
    split = cpu_split(rows)
    report = markdown_report(rows, [split, ""], ["", "targets, big: met"])
    table, block, verdict = report.rstrip("\n").split("\n\n")
    assert table.splitlines()[0].startswith("| server | scenario |")
    assert table.splitlines()[2].startswith("| ours | big | 100 |")
    # the split keeps its lines and their indent, as preformatted text
    assert block == f"```text\n{split}\n```"
    assert "  ours/big: 20.0 = user 12.0 + kernel 8.0" in block.splitlines()
    assert verdict == "targets, big: met"
