"""Logging, configured once per process: named ``classroom.*`` loggers to stderr."""

from __future__ import annotations

import logging

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def configure(level: str = "info") -> None:
    logging.basicConfig(level=level.upper(), format=FORMAT)
    logging.getLogger("classroom").setLevel(level.upper())
    logging.getLogger("alembic").setLevel(logging.WARNING)
