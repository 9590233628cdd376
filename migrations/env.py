"""Alembic environment: runs migrations on the synchronous driver of the configured database."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import create_engine, pool

import server.models
from server.store import install_sqlite_pragmas, sync_url

config = context.config
url = config.attributes.get("database_url") or os.environ.get(
    "CLASSROOM_DATABASE_URL", "sqlite:///classroom.db"
)
target_metadata = server.models.metadata


def run_offline() -> None:
    context.configure(url=sync_url(url), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    target = sync_url(url)
    engine = create_engine(target, poolclass=pool.NullPool)
    is_sqlite = target.get_backend_name() == "sqlite"
    if is_sqlite:
        install_sqlite_pragmas(engine)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=is_sqlite,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
