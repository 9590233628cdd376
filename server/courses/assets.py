"""Course assets in the store, and ``GET /api/classrooms/{id}/assets/{path}`` serving them.

An asset is served from our origin with the type the importer decided, ``nosniff``, and a
policy of its own (``default-src 'none'``, ``sandbox``): opened directly, even an SVG can run
nothing. Only members of the classroom may read them; the page cookie authenticates an
``<img>`` as it does a page. A new import replaces the set: an asset no longer in the course
is deleted.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.responses import Response

from rooms.demos.assets import Asset
from server.api.base import Ctx, endpoint
from server.classrooms.access import classroom_access
from server.exceptions import NotFound
from server.models import CourseAsset
from server.models.clock import utcnow

ASSET_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox",
    "Cache-Control": "private, max-age=300",
    "Cross-Origin-Resource-Policy": "same-origin",
}


async def store_assets(
    session: AsyncSession, classroom_id: int, assets: list[Asset]
) -> list[dict[str, Any]]:
    """Make the classroom's stored assets exactly ``assets``; what happened to each."""
    rows = {
        row.path: row
        for row in (
            await session.exec(select(CourseAsset).where(CourseAsset.classroom_id == classroom_id))
        ).all()
    }
    report: list[dict[str, Any]] = []
    for asset in assets:
        digest = hashlib.sha256(asset.data).hexdigest()
        row = rows.pop(asset.path, None)
        if row is not None and row.sha256 == digest and row.content_type == asset.content_type:
            status = "unchanged"
        else:
            status = "created" if row is None else "updated"
            row = row or CourseAsset(
                classroom_id=classroom_id,
                path=asset.path,
                content_type="",
                size=0,
                sha256="",
                data=b"",
            )
            row.content_type, row.size, row.sha256 = asset.content_type, len(asset.data), digest
            row.data, row.updated_at = asset.data, utcnow()
            session.add(row)
        report.append(
            {
                "path": asset.path,
                "type": asset.content_type,
                "bytes": len(asset.data),
                "status": status,
            }
        )
    if rows:
        await session.exec(
            delete(CourseAsset).where(col(CourseAsset.id).in_([r.id for r in rows.values()]))
        )
    return report


@endpoint("GET", "/api/classrooms/{classroom_id:id}/assets/{path:path}", tag="courses")
async def get_asset(ctx: Ctx) -> Response:
    """A course asset (image or media), for members of the classroom."""
    classroom_id = ctx.path_int("classroom_id")
    path = "assets/" + ctx.request.path_params["path"]
    async with ctx.session() as session:
        await classroom_access(session, classroom_id, ctx.caller.user_id)
        row = (
            await session.exec(
                select(CourseAsset).where(
                    CourseAsset.classroom_id == classroom_id, CourseAsset.path == path
                )
            )
        ).first()
    if row is None:
        raise NotFound(f"no asset {path} in this course", code="unknown_asset")
    etag = f'"{row.sha256[:32]}"'
    headers = {**ASSET_HEADERS, "ETag": etag}
    if ctx.request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(row.data, media_type=row.content_type, headers=headers)


routes = [get_asset]
