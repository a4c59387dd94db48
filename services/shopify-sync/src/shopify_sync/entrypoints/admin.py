"""Admin API (bearer ``STOCKSYNC_ADMIN_TOKEN``): reconciliation jobs and the catalog mapping.
Every action writes one audit line (who, what, when)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, Field

from shopify_sync.domain.catalog import parse_csv, to_csv
from shopify_sync.entrypoints.deps import AdminDep, ContainerDep
from stocksync_common.bodies import read_bounded

router = APIRouter(tags=["admin"])
MAX_IMPORT_BYTES = 32 * 1024 * 1024


class ReconcileIn(BaseModel):
    shops: list[str] | None = None
    skus: list[str] | None = Field(default=None, max_length=10_000)


@router.post("/reconcile", status_code=202)
async def reconcile(
    c: ContainerDep, who: AdminDep, body: ReconcileIn | None = None
) -> JSONResponse:
    """Start a reconciliation (all stores, or some shops / SKUs); 202 with the job id."""
    body = body or ReconcileIn()
    unknown = [s for s in body.shops or [] if c.stores.by_shop(s) is None]
    if unknown:
        raise HTTPException(422, f"unknown shops: {unknown}")
    job_id = await c.jobs.start(body.shops, body.skus)
    who.audit("reconcile", job=job_id, shops=body.shops, skus=len(body.skus or []))
    return JSONResponse({"job_id": job_id}, 202)


@router.get("/jobs/{job_id}")
async def get_job(job_id: str, c: ContainerDep, _who: AdminDep) -> dict[str, Any]:
    """Status and result of a job."""
    doc = await c.jobs.jobs.get(job_id)
    if doc is None:
        raise HTTPException(404, "unknown job")
    return doc


@router.get("/mapping/export")
async def export_mapping(
    c: ContainerDep, who: AdminDep, shop: str | None = None
) -> PlainTextResponse:
    """The catalog mapping as CSV (one row per shop, SKU and stocked location)."""
    stores = [s for s in c.stores.stores if shop is None or s.shop == shop]
    rows = [(s, e) for s in stores for e in await c.catalog.all_entries(s.shop)]
    who.audit("mapping export", shop=shop, rows=len(rows))
    return PlainTextResponse(to_csv(rows), media_type="text/csv")


@router.post("/mapping/import")
async def import_mapping(request: Request, c: ContainerDep, who: AdminDep) -> dict[str, Any]:
    """Load mapping rows (the export's CSV); bad rows are reported, good ones stored."""
    raw = await read_bounded(request, MAX_IMPORT_BYTES, "import")
    parsed = parse_csv(raw.decode("utf-8", "replace"), c.stores.stores)
    for shop, entries in parsed.entries.items():
        await c.catalog.put(shop, list(entries.values()))
        c.lanes.wake(shop)
    imported = sum(len(e) for e in parsed.entries.values())
    who.audit("mapping import", imported=imported, rejected=len(parsed.errors))
    return {"imported": imported, "rejected": len(parsed.errors), "errors": parsed.errors[:100]}


@router.get("/mapping/problems")
async def mapping_problems(c: ContainerDep, who: AdminDep) -> dict[str, Any]:
    """Duplicate, missing, mismatched, blank and unstocked SKUs per store."""
    out = {}
    for store in c.stores.stores:
        meta = await c.catalog.meta(store.shop)
        out[store.shop] = {"problems": meta.get("problems", {}), "discovery": meta.get("discovery")}
    who.audit("mapping problems")
    return out


@router.get("/circuits")
async def circuits(c: ContainerDep, who: AdminDep) -> dict[str, Any]:
    """Per shop: circuit state, learned bucket, pending changes."""
    out = {}
    for store in c.stores.stores:
        limits = c.client.shop(store.shop)
        out[store.shop] = {
            "circuit": limits.breaker.state.value,
            "bucket": limits.bucket.snapshot(),
            "pending": await c.state.pending_count(store.shop),
        }
    who.audit("circuits")
    return out
