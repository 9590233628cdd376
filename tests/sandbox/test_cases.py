"""Splitting a multi-case run's output by the wrapper's trailers, and spotting forged framing."""

from __future__ import annotations

from sandbox.cases import CaseSplitter
from sandbox.model import RunStatus
from sandbox.wrapper import Trailer, TrailerFilter

NONCE = "0123456789abcdef"
MARK = "\x1e" + NONCE + " "


def framed(*cases: tuple[int, str, int]) -> bytes:
    """stdout as the wrapper writes it: case trailer, output, done trailer (wall 1 ms)."""
    text = "".join(
        f"{MARK}case {n}\n{out}{MARK}done {n} {code} 100 300 4096 0 1000\n"
        for n, out, code in cases
    )
    return text.encode()


def split(count: int, stdout: bytes, stderr: bytes | None = None) -> CaseSplitter:
    splitter = CaseSplitter(count, seconds=2.0, memory_mb=256)
    for stream, data in (("stdout", stdout), ("stderr", stderr if stderr is not None else b"")):
        for piece in TrailerFilter(NONCE).feed(data):
            if isinstance(piece, Trailer):
                splitter.trailer(stream, piece)  # type: ignore[arg-type]
            else:
                splitter.data(stream, piece)  # type: ignore[arg-type]
    return splitter


def test_each_case_gets_its_own_output_and_exit() -> None:
    results = split(2, framed((0, "one\n", 0), (1, "two\n", 3))).results(RunStatus.OK, "")
    assert [(r.stdout, r.status, r.exit_code) for r in results] == [
        ("one\n", RunStatus.OK, 0),
        ("two\n", RunStatus.RUNTIME_ERROR, 3),
    ]
    assert results[0].cpu_ms == 0.0002 and results[0].wall_ms == 1.0
    assert not any(r.tampered for r in results)


def test_a_killed_case_at_the_time_limit_is_a_timeout() -> None:
    stdout = f"{MARK}case 0\n{MARK}done 0 137 0 0 0 0 2000000\n".encode()
    (result,) = split(1, stdout).results(RunStatus.OK, "")
    assert result.status is RunStatus.TIMEOUT and result.message == "stopped after 2 s"


def test_cases_cut_off_by_the_run_take_its_verdict_or_did_not_run() -> None:
    stdout = framed((0, "", 0)) + f"{MARK}case 1\npartial".encode()
    results = split(3, stdout).results(RunStatus.TIMEOUT, "stopped after 5 s")
    assert [(r.status, r.message) for r in results] == [
        (RunStatus.OK, ""),
        (RunStatus.TIMEOUT, "stopped after 5 s"),
        (RunStatus.RUNTIME_ERROR, "did not run: the run ended before it"),
    ]
    assert results[1].stdout == "partial"


def test_a_forged_done_and_case_show_up_twice_and_mark_both_cases() -> None:
    forged = f"{MARK}done 0 0 0 0 0 0 1\n{MARK}case 1\nfake\n{MARK}done 1 0 0 0 0 0 1\n"
    real = f"{MARK}case 0\n{forged}{MARK}done 0 0 1 2 3 0 1\n{MARK}case 1\nreal\n"
    real += f"{MARK}done 1 0 1 2 3 0 1\n"
    results = split(2, real.encode()).results(RunStatus.OK, "")
    assert [r.tampered for r in results] == [True, True]


def test_a_case_number_out_of_range_is_tampering_with_the_open_case() -> None:
    stdout = f"{MARK}case 0\n{MARK}case 7\n{MARK}done 0 0 0 0 0 0 1\n".encode()
    (result,) = split(1, stdout).results(RunStatus.OK, "")
    assert result.tampered


def test_requests_and_results_with_cases_cross_process_boundaries_as_json() -> None:
    import json

    from sandbox.model import Case, CaseResult, RunRequest, RunResult

    request = RunRequest("python", {"main.py": "x"}, cases=(Case("1\n", ("a",)), Case()))
    assert RunRequest.from_dict(json.loads(json.dumps(request.to_dict()))) == request
    result = RunResult(
        RunStatus.OK, cases=(CaseResult(RunStatus.TIMEOUT, stdout="s", tampered=True),)
    )
    assert RunResult.from_dict(json.loads(json.dumps(result.to_dict()))) == result
