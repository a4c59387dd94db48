"""``POST /stores/connect`` (bearer ``STOCKSYNC_ADMIN_TOKEN``): what ``stocksync-stores
connect`` does, for the ops console and scripts: per store the scopes checked, the locations
listed and the mapping checked, the webhook subscriptions reconciled; then the first-sync job
of the stores that are ready. The service never edits the stores file (it may be read-only and
every service reads it): a store without a mapping is answered ``needs_mapping`` with the
mapping to add, and gets no webhooks until it is there."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from shopify_sync.domain.connect import callback_url
from shopify_sync.entrypoints.deps import AdminDep, ContainerDep
from shopify_sync.stores_file import snippet

router = APIRouter(prefix="/stores", tags=["admin"])


class ConnectIn(BaseModel):
    shops: list[str] | None = None
    public_url: str | None = Field(default=None, max_length=2000)
    dry_run: bool = False
    sync: bool = True


@router.post("/connect")
async def connect(c: ContainerDep, who: AdminDep, body: ConnectIn | None = None) -> dict[str, Any]:
    """Connect the stores (all, or some shops); 200 with each store's outcome and the
    first-sync job's id (null when no store was ready or on a dry run)."""
    body = body or ConnectIn()
    unknown = [s for s in body.shops or [] if c.stores.by_shop(s) is None]
    if unknown:
        raise HTTPException(422, f"unknown shops: {unknown}")
    public_url = body.public_url or c.settings.public_url
    if not public_url:
        raise HTTPException(422, "no public_url given and STOCKSYNC_PUBLIC_URL is not set")
    try:
        callback_url(public_url)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    results = []
    for store in c.stores.stores:
        if body.shops and store.shop not in body.shops:
            continue
        result = await c.connector.connect(
            store, public_url, dry_run=body.dry_run, mapping_writable=False
        )
        out = result.to_json()
        if result.mapping_changed:
            out["stores_file_snippet"] = snippet(store.shop, result.mapping)
        results.append(out)
    ready = [r["shop"] for r in results if r["status"] == "ok"]
    job_id = None
    if ready and body.sync and not body.dry_run and c.runner is not None:
        job_id = await c.runner.submit("first-sync", {"shops": ready})
    who.audit("stores connect", shops=[r["shop"] for r in results], ready=ready, job=job_id,
              dry_run=body.dry_run)  # fmt: skip
    return {"stores": results, "job_id": job_id}
