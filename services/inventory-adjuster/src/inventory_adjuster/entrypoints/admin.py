"""Admin API: stock import through Kafka, and job status."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse

from inventory_adjuster.adapters.redis_store import as_text
from inventory_adjuster.bootstrap import Container
from inventory_adjuster.entrypoints.deps import AdminDep, ContainerDep
from inventory_adjuster.stock_import import ParsedImport, parse_import
from stocksync_common.bodies import read_bounded
from stocksync_common.events import InventoryCommand, InventoryCommandRequested, new_id
from stocksync_common.kafka import send_event
from stocksync_common.topics import INVENTORY_COMMANDS

log = logging.getLogger(__name__)
router = APIRouter(tags=["admin"])
JOB_TTL_S = 7 * 24 * 3600
MAX_IMPORT_BYTES = 64 * 1024 * 1024
_tasks: set[asyncio.Task[None]] = set()


def job_key(job_id: str) -> str:
    return f"jobs:{{{job_id}}}"


async def _run_import(c: Container, job_id: str, parsed: ParsedImport, correlation: str) -> None:
    key = job_key(job_id)
    try:
        futures = []
        for row in parsed.rows:
            cmd = InventoryCommand(
                command="set_on_hand",
                idempotency_key=f"import:{job_id}:line:{row.line}",
                sku=row.sku,
                location=row.location,
                quantity=row.on_hand,
                reason="import",
            )
            event = InventoryCommandRequested(
                payload=cmd, source="inventory-adjuster.import", correlation_id=correlation
            )
            futures.append(await send_event(c.producer, INVENTORY_COMMANDS, row.sku, event))
        await asyncio.gather(*futures)
        await c.redis.hset(key, mapping={"status": "done", "published": len(parsed.rows)})
    except Exception as exc:  # noqa: BLE001 - recorded on the job for the caller
        log.exception("import failed", extra={"job": job_id})
        await c.redis.hset(key, mapping={"status": "failed", "error": str(exc)[:500]})


@router.post("/inventory/import", status_code=202)
async def import_stock(request: Request, c: ContainerDep, who: AdminDep) -> JSONResponse:
    """Load stock counts (CSV or JSON lines) as ``set_on_hand`` commands through Kafka."""
    body = await read_bounded(request, MAX_IMPORT_BYTES, "import")
    parsed = parse_import(body, request.headers.get("content-type", ""))
    if not parsed.rows:
        raise HTTPException(400, {"message": "no valid rows", "errors": parsed.errors[:50]})
    job_id = new_id()
    key = job_key(job_id)
    await c.redis.hset(
        key,
        mapping={
            "kind": "inventory-import",
            "status": "running",
            "rows": len(parsed.rows),
            "errors": len(parsed.errors),
            "published": 0,
        },
    )
    await c.redis.expire(key, JOB_TTL_S)
    log.info("audit: inventory import", extra={"who": who, "job": job_id, "rows": len(parsed.rows)})
    task = asyncio.create_task(_run_import(c, job_id, parsed, job_id))
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)
    return JSONResponse(
        {"job_id": job_id, "rows": len(parsed.rows), "errors": parsed.errors[:50]}, 202
    )


@router.get("/jobs/{job_id}")
async def get_job(job_id: str, c: ContainerDep, _who: AdminDep) -> dict[str, Any]:
    """Status and counts of an admin job."""
    raw = await c.redis.hgetall(job_key(job_id))
    if not raw:
        raise HTTPException(404, "unknown job")
    doc: dict[str, Any] = {as_text(k): as_text(v) for k, v in raw.items()}
    for n in ("rows", "errors", "published"):
        if n in doc:
            doc[n] = int(doc[n])
    return {"job_id": job_id, **doc}
