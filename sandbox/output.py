"""Output accounting, sans I/O: raw bytes of stdout/stderr in, numbered text chunks out.

Bytes count against one cap shared by both streams; the chunk that crosses the cap is cut at
it and :attr:`OutputMeter.exceeded` turns true, which tells the caller to stop the program.
Each stream has its own incremental UTF-8 decoder, so a character split across two reads
comes out whole; undecodable bytes become U+FFFD.

What a program wrote streams as written; :func:`storable` is that text as every store takes it.
"""

from __future__ import annotations

import codecs
import re

from sandbox.model import Chunk, Stream

# NUL, which PostgreSQL's text cannot hold, and a half of a surrogate pair, which no UTF-8
# encoder takes: a runner reporting through JSON (``"\\ud800"``) can hand one on.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(text: str) -> str:
    """``text`` with each NUL and each half of a surrogate pair shown as U+FFFD, as an
    undecodable byte is: what a program wrote, as any database and encoder takes it."""
    return _UNSTORABLE.sub("\ufffd", text)


class OutputMeter:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.total = 0
        self.exceeded = False
        self._seq = 0
        self._decoders = {
            "stdout": codecs.getincrementaldecoder("utf-8")("replace"),
            "stderr": codecs.getincrementaldecoder("utf-8")("replace"),
        }
        self._texts: dict[str, list[str]] = {"stdout": [], "stderr": []}
        self._all: list[str] = []

    def feed(self, stream: Stream, data: bytes) -> Chunk | None:
        """The chunk to deliver for ``data`` (None if nothing is decodable yet or over the cap)."""
        if self.exceeded:
            return None
        room = self.limit - self.total
        if len(data) > room:
            data = data[: max(0, room)]
            self.exceeded = True
        self.total += len(data)
        return self._chunk(stream, self._decoders[stream].decode(data, final=self.exceeded))

    def flush(self) -> list[Chunk]:
        """Chunks for bytes held back by the decoders (an incomplete character at the end)."""
        chunks = []
        for stream in ("stdout", "stderr"):
            chunk = self._chunk(stream, self._decoders[stream].decode(b"", final=True))
            if chunk is not None:
                chunks.append(chunk)
        return chunks

    def text(self, stream: Stream | None = None) -> str:
        """Everything delivered so far on ``stream`` (or on both, interleaved as delivered)."""
        if stream is None:
            return "".join(self._all)
        return "".join(self._texts[stream])

    def _chunk(self, stream: Stream, text: str) -> Chunk | None:
        if not text:
            return None
        self._texts[stream].append(text)
        self._all.append(text)
        chunk = Chunk(seq=self._seq, stream=stream, data=text)
        self._seq += 1
        return chunk
