"""``python -m server``: serve (the default), create-instructor, migrate, import-course,
lti-register, lti-platforms, backup, restore."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sqlmodel import select

from server.auth import hash_password
from server.exceptions import ConfigurationError
from server.logs import configure
from server.models import Classroom, User, UserKind
from server.schema import migrate_in_child
from server.security.sessions import bump_generation
from server.settings import Settings
from server.store import Store, migrate

MIN_PASSWORD = 8


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m server", description="OpenCode Classroom")
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="run the web server (the default)")
    _serve_options(serve)
    _serve_options(parser)
    create = sub.add_parser("create-instructor", help="create or update an instructor account")
    create.add_argument("email")
    create.add_argument("--name", required=True)
    create.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    sub.add_parser("migrate", help="bring the database schema to the latest revision")
    course = sub.add_parser("import-course", help="import a course folder into a classroom")
    course.add_argument("path", help="folder with exercises/ and/or demos/")
    course.add_argument("--classroom", type=int, required=True, help="classroom id")
    lti = sub.add_parser("lti-register", help="register an LMS platform (LTI 1.3)")
    for option in ("issuer", "client-id", "deployment-id", "auth-url", "token-url", "jwks-url"):
        lti.add_argument(f"--{option}", required=True)
    sub.add_parser("lti-platforms", help="list the registered LMS platforms")
    save = sub.add_parser("backup", help="copy the SQLite database to PATH while it serves")
    save.add_argument("path")
    save.add_argument("--force", action="store_true", help="replace PATH if it exists")
    load = sub.add_parser(
        "restore", help="replace the SQLite database by a backup (servers stopped)"
    )
    load.add_argument("path")
    return parser


def _serve_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default 8000)")
    parser.add_argument("--workers", type=int, help="worker processes (default 1)")


def serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    settings = replace(
        settings,
        host=args.host or settings.host,
        port=args.port or settings.port,
        workers=args.workers or settings.workers,
    )
    # Migrate once here, so several workers do not race on the schema; in a child process,
    # so that Alembic never occupies this one's memory (server/schema.py).
    migrate_in_child(settings.database_url)
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "ws": "websockets-sansio",
        "ws_max_size": settings.max_frame_bytes,
        "ws_per_message_deflate": False,
        "log_level": settings.log_level,
        "lifespan": "on",
        # SIGTERM: stop accepting, close sockets with 1012, wait this long for the rest
        "timeout_graceful_shutdown": settings.shutdown_grace_seconds,
    }
    if settings.workers > 1:
        # Each worker builds its app from the environment (server.main).
        uvicorn.run("server.main:app", workers=settings.workers, **options)
    else:
        from server.app import create_app
        from server.documents.collector import tune_gc

        app = create_app(settings)
        tune_gc()
        uvicorn.run(app, **options)
    return 0


def create_instructor(settings: Settings, args: argparse.Namespace) -> int:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            print("error: the passwords differ", file=sys.stderr)
            return 2
    if len(password) < MIN_PASSWORD:
        print(f"error: the password needs at least {MIN_PASSWORD} characters", file=sys.stderr)
        return 2
    name = args.name.strip()
    if not name or len(name) > 80:
        print("error: the name needs 1 to 80 characters", file=sys.stderr)
        return 2
    email = args.email.strip().lower()
    if "@" not in email or len(email) > 254:
        print(f"error: {args.email!r} is not an email address", file=sys.stderr)
        return 2
    migrate(settings.database_url)
    user_id = asyncio.run(_upsert_instructor(settings, email, name, hash_password(password)))
    print(f"instructor {email} (id {user_id}) is ready")
    return 0


async def _upsert_instructor(settings: Settings, email: str, name: str, password_hash: str) -> int:
    store = Store(settings.database_url)
    try:
        async with store.session() as session:
            user = (await session.exec(select(User).where(User.email == email))).first()
            if user is None:
                user = User(email=email, name=name, kind=UserKind.INSTRUCTOR.value)
            user.name = name
            user.password_hash = password_hash
            user.kind = UserKind.INSTRUCTOR.value
            session.add(user)
            await session.flush()
            assert user.id is not None
            await bump_generation(session, user.id)  # a reset signs every earlier token out
            return user.id
    finally:
        await store.close()


def import_course_command(settings: Settings, args: argparse.Namespace) -> int:
    from pathlib import Path

    from server.courses.importer import CourseError, import_course

    migrate(settings.database_url)

    async def run() -> dict[str, Any]:
        store = Store(settings.database_url)
        try:
            async with store.session() as session:
                if await session.get(Classroom, args.classroom) is None:
                    raise CourseError(f"classroom {args.classroom} does not exist")
            return (await import_course(store, args.classroom, Path(args.path))).to_dict()
        finally:
            await store.close()

    try:
        report = asyncio.run(run())
    except CourseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for kind in ("exercises", "demos"):
        for item in report[kind]:
            print(f"{kind[:-1]} {item['id']}: {item['status']}")
    for warning in report["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except ConfigurationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    configure(settings.log_level)
    command = args.command or "serve"
    if command == "serve":
        return serve(settings, args)
    if command == "create-instructor":
        return create_instructor(settings, args)
    if command == "import-course":
        return import_course_command(settings, args)
    if command in ("lti-register", "lti-platforms"):
        from server.lti.cli import lti_command

        return lti_command(settings, args)
    if command in ("backup", "restore"):
        from server.operations.commands import backup_command, restore_command

        return (backup_command if command == "backup" else restore_command)(settings, args)
    if command == "migrate":
        migrate(settings.database_url)
        print("database schema is at the latest revision")
        return 0
    raise AssertionError(command)
