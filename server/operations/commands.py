"""The ``backup`` and ``restore`` commands of ``python -m server``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from server.operations.backup import backup, restore
from server.operations.exceptions import OperationError
from server.settings import Settings
from server.store import migrate


def backup_command(settings: Settings, args: argparse.Namespace) -> int:
    try:
        size = backup(settings.database_url, Path(args.path), overwrite=args.force)
    except (OperationError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"backup written to {args.path} ({size} bytes)")
    return 0


def restore_command(settings: Settings, args: argparse.Namespace) -> int:
    try:
        revision = restore(settings.database_url, Path(args.path))
    except (OperationError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    migrate(settings.database_url)
    print(f"restored from {args.path} (schema {revision}, now at the latest revision)")
    return 0
