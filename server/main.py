"""The ASGI application built from the environment, for ``uvicorn server.main:app`` and workers."""

from __future__ import annotations

from server.app import create_app
from server.documents.collector import tune_gc

app = create_app()
tune_gc()
