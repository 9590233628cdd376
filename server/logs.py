"""Logging, configured once per process: named ``classroom.*`` loggers to stderr."""

from __future__ import annotations

import logging
import re

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


_TOKEN = re.compile(r"(token=)[^&\s\"']+")


class RedactTokens(logging.Filter):
    """Sockets carry the sign-in token in ``?token=``; access logs must not keep it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = tuple(
                _TOKEN.sub(r"\1***", a) if isinstance(a, str) else a for a in record.args
            )
        if isinstance(record.msg, str) and "token=" in record.msg:
            record.msg = _TOKEN.sub(r"\1***", record.msg)
        return True


def redact_uvicorn() -> None:
    for name in ("uvicorn.access", "uvicorn.error"):
        logging.getLogger(name).addFilter(RedactTokens())


def configure(level: str = "info") -> None:
    logging.basicConfig(level=level.upper(), format=FORMAT)
    redact_uvicorn()
    logging.getLogger("classroom").setLevel(level.upper())
    logging.getLogger("alembic").setLevel(logging.WARNING)
