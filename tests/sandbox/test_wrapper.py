"""The wrapper's payload and trailers, and the output meter: pure byte handling."""

from __future__ import annotations

import io
import tarfile

from sandbox.output import OutputMeter
from sandbox.wrapper import TMP_DIR, Trailer, TrailerFilter, files_archive, payload, signal_name

NONCE = "0123456789abcdef"
MARK = b"\x1e" + NONCE.encode() + b" "


def test_payload_is_nul_separated_fields_then_the_archive() -> None:
    data = payload(NONCE, b"TAR", ("gcc", "a b.c"), ("./main", "x\ny"))
    fields = data[: -len(b"TAR")].split(b"\0")
    assert fields == [
        *(NONCE.encode(), b"3", b"2", b"gcc", b"a b.c", b"2", b"./main", b"x\ny"),
        *(b"0", b"0.000", b""),
    ]
    assert data.endswith(b"\0TAR")
    assert payload(NONCE, b"", None, ("python3",)).startswith(NONCE.encode() + b"\x000\x000\x001\0")
    cases = payload(NONCE, b"", None, ("./main",), case_args=[("0",), ()], case_seconds=2.5)
    assert cases.split(b"\0")[5:] == [b"2", b"2.500", b"1", b"0", b"0", b""]


def test_archive_holds_the_files_and_the_temp_dir() -> None:
    data = files_archive({"main.py": "print('é')\n", "pkg/util.py": "X = 1\n"})
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        names = tar.getnames()
        main = tar.extractfile("main.py")
        assert main is not None and main.read() == "print('é')\n".encode()
        assert tar.getmember(TMP_DIR).isdir()
    assert names == [TMP_DIR, "main.py", "pkg/util.py"]


def test_trailer_is_cut_out_of_the_stream() -> None:
    f = TrailerFilter(NONCE)
    out = f.feed(b"hello\n" + MARK + b"usage 0 100 350 4096 0\nafter")
    assert out == [b"hello\n", Trailer("usage", 0, 250, 4096, 0), b"after"]


def test_trailer_split_across_reads_is_still_found() -> None:
    f = TrailerFilter(NONCE)
    whole = b"out" + MARK + b"compiled 1 - 5 6 2\n"
    pieces: list[bytes | Trailer] = []
    for i in range(len(whole)):
        pieces += f.feed(whole[i : i + 1])
    assert b"".join(p for p in pieces if isinstance(p, bytes)) == b"out"
    assert [p for p in pieces if isinstance(p, Trailer)] == [Trailer("compiled", 1, None, 6, 2)]


def test_a_forged_trailer_without_the_nonce_is_plain_output() -> None:
    f = TrailerFilter(NONCE)
    forged = b"\x1eabcdefabcdefabcd usage 0 0 0 0 0\n"
    assert b"".join(p for p in f.feed(forged) if isinstance(p, bytes)) + f.flush() == forged


def test_a_lone_record_separator_is_held_then_released() -> None:
    f = TrailerFilter(NONCE)
    assert f.feed(b"ab\x1e") == [b"ab"]
    assert f.flush() == b"\x1e"


def test_signal_names() -> None:
    assert signal_name(139) == "SIGSEGV"
    assert signal_name(137) == "SIGKILL"
    assert signal_name(1) is None and signal_name(128) is None


def test_meter_numbers_chunks_across_streams_and_keeps_characters_whole() -> None:
    m = OutputMeter(100)
    e = "é".encode()
    assert m.feed("stdout", b"a" + e[:1]) == m_chunk(0, "stdout", "a")
    assert m.feed("stderr", b"err") == m_chunk(1, "stderr", "err")
    assert m.feed("stdout", e[1:]) == m_chunk(2, "stdout", "é")
    assert m.text("stdout") == "aé" and m.text() == "aerré"


def test_meter_cuts_at_the_cap_and_then_refuses() -> None:
    m = OutputMeter(5)
    chunk = m.feed("stdout", b"0123456789")
    assert chunk is not None and chunk.data == "01234"
    assert m.exceeded and m.total == 5
    assert m.feed("stdout", b"more") is None


def test_meter_flush_releases_a_dangling_partial_character() -> None:
    m = OutputMeter(100)
    assert m.feed("stdout", "é".encode()[:1]) is None
    chunks = m.flush()
    assert [c.data for c in chunks] == ["\ufffd"]


def m_chunk(seq: int, stream: str, data: str) -> object:
    from sandbox.model import Chunk

    return Chunk(seq=seq, stream=stream, data=data)  # type: ignore[arg-type]
