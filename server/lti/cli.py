"""``python -m server lti-register …`` and ``python -m server lti-platforms``."""

from __future__ import annotations

import argparse
import asyncio
import sys

from server.exceptions import ApiError
from server.lti import platforms
from server.lti.platforms import PlatformSpec
from server.settings import Settings
from server.store import Store, migrate


def lti_command(settings: Settings, args: argparse.Namespace) -> int:
    migrate(settings.database_url)
    try:
        if args.command == "lti-register":
            return asyncio.run(_register(settings, args))
        return asyncio.run(_list(settings))
    except ApiError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2


async def _register(settings: Settings, args: argparse.Namespace) -> int:
    spec = PlatformSpec(
        issuer=args.issuer,
        client_id=args.client_id,
        deployment_id=args.deployment_id,
        auth_url=args.auth_url,
        token_url=args.token_url,
        jwks_url=args.jwks_url,
    )
    store = Store(settings.database_url)
    try:
        async with store.session() as session:
            platform, created = await platforms.register(session, spec)
    finally:
        await store.close()
    verb = "registered" if created else "updated"
    print(
        f"platform {platform.id} {verb}: {spec.issuer} client {spec.client_id}, "
        f"deployment {spec.deployment_id}"
    )
    return 0


async def _list(settings: Settings) -> int:
    store = Store(settings.database_url)
    try:
        async with store.session() as session:
            rows = await platforms.listing(session)
    finally:
        await store.close()
    if not rows:
        print("no LMS platform is registered")
    for row in rows:
        deployments = ", ".join(str(d) for d in row["deployment_ids"])  # type: ignore[attr-defined]
        print(f"{row['id']}\t{row['issuer']}\tclient {row['client_id']}\tdeployments {deployments}")
        print(f"\tauth {row['auth_url']}\n\ttoken {row['token_url']}\n\tjwks {row['jwks_url']}")
    return 0
