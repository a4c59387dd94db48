"""Admin jobs API (bearer ``STOCKSYNC_ADMIN_TOKEN``): start a catalog sync, a
reconciliation or a mapping import; each answers 202 with the job id at once, and
``GET /jobs/{id}`` (admin router) gives status, progress, counts and errors."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from shopify_sync.entrypoints.admin import MAX_IMPORT_BYTES
from shopify_sync.entrypoints.deps import AdminDep, ContainerDep
from stocksync_common.bodies import read_bounded

router = APIRouter(prefix="/jobs", tags=["jobs"])


class ShopsIn(BaseModel):
    shops: list[str] | None = None
    skus: list[str] | None = Field(default=None, max_length=10_000)


def _check(c: ContainerDep, shops: list[str] | None) -> None:
    unknown = [s for s in shops or [] if c.stores.by_shop(s) is None]
    if unknown:
        raise HTTPException(422, f"unknown shops: {unknown}")
    if c.runner is None:
        raise HTTPException(503, "jobs are not enabled")


@router.post("/catalog-sync", status_code=202)
async def catalog_sync(c: ContainerDep, who: AdminDep, body: ShopsIn | None = None) -> JSONResponse:
    """Sync the children's catalog from the parent (all children, or some shops)."""
    body = body or ShopsIn()
    _check(c, body.shops)
    assert c.runner is not None  # noqa: S101 - checked
    job_id = await c.runner.submit("catalog-sync", {"shops": body.shops})
    who.audit("catalog sync", job=job_id, shops=body.shops)
    return JSONResponse({"job_id": job_id}, 202)


@router.post("/reconciliation", status_code=202)
async def reconciliation(
    c: ContainerDep, who: AdminDep, body: ShopsIn | None = None
) -> JSONResponse:
    """Reconcile every store (or some shops / SKUs) with truth, as a resumable job."""
    body = body or ShopsIn()
    _check(c, body.shops)
    assert c.runner is not None  # noqa: S101 - checked
    job_id = await c.runner.submit("reconciliation", {"shops": body.shops, "skus": body.skus})
    who.audit("reconciliation job", job=job_id, shops=body.shops, skus=len(body.skus or []))
    return JSONResponse({"job_id": job_id}, 202)


@router.post("/mapping-import", status_code=202)
async def mapping_import(request: Request, c: ContainerDep, who: AdminDep) -> JSONResponse:
    """Import mapping rows (the export's CSV) as a job; bad rows are listed on the job."""
    raw = await read_bounded(request, MAX_IMPORT_BYTES, "import")
    _check(c, None)
    assert c.runner is not None and c.importer is not None  # noqa: S101 - wired together
    key = await c.importer.stash(raw.decode("utf-8", "replace"))
    job_id = await c.runner.submit("mapping-import", {"input": key, "bytes": len(raw)})
    who.audit("mapping import job", job=job_id, bytes=len(raw))
    return JSONResponse({"job_id": job_id}, 202)
