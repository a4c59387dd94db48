"""Admin API: stock import through Kafka, and job status."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import orjson
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse

from inventory_adjuster.adapters.redis_store import as_text, idem_key
from inventory_adjuster.bootstrap import Container
from inventory_adjuster.entrypoints.deps import AdminDep, ContainerDep
from inventory_adjuster.stock_import import ImportRow, ParsedImport, parse_import
from stocksync_common.bodies import read_bounded
from stocksync_common.events import InventoryCommand, InventoryCommandRequested, new_id
from stocksync_common.kafka import send_event
from stocksync_common.topics import INVENTORY_COMMANDS

log = logging.getLogger(__name__)
router = APIRouter(tags=["admin"])
JOB_TTL_S = 7 * 24 * 3600
MAX_IMPORT_BYTES = 64 * 1024 * 1024
MAX_ERRORS_SHOWN, MAX_ERRORS_KEPT = 50, 1000  # in the answer; on the job
APPLY_WAIT_S, APPLY_POLL_S = 600.0, 0.5  # how long a job follows its rows into truth
_tasks: set[asyncio.Task[None]] = set()


def job_key(job_id: str) -> str:
    return f"jobs:{{{job_id}}}"


def import_key(job_id: str, row: ImportRow) -> str:
    return f"import:{job_id}:line:{row.line}"


async def _run_import(c: Container, job_id: str, parsed: ParsedImport, correlation: str) -> None:
    """Publish the rows as commands, then follow them until the adjuster applied each one
    (its idempotency key is stored when it is): "applied" means in truth, not sent."""
    key = job_key(job_id)
    try:
        futures = []
        for row in parsed.rows:
            cmd = InventoryCommand(
                command="set_on_hand",
                idempotency_key=import_key(job_id, row),
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
        await c.redis.hset(key, mapping={"status": "published", "published": len(parsed.rows)})
        applied = await _follow(c, key, job_id, parsed.rows)
        status = "applied" if applied == len(parsed.rows) else "published"
        await c.redis.hset(key, mapping={"status": status, "applied": applied})
    except Exception as exc:  # noqa: BLE001 - recorded on the job for the caller
        log.exception("import failed", extra={"job": job_id})
        await c.redis.hset(key, mapping={"status": "failed", "error": str(exc)[:500]})


async def _follow(c: Container, key: str, job_id: str, rows: list[ImportRow]) -> int:
    """Rows applied so far, counted until all are or ``APPLY_WAIT_S`` passed."""
    left = list(rows)
    applied = 0
    deadline = time.monotonic() + APPLY_WAIT_S
    while left:
        async with c.redis.pipeline(transaction=False) as pipe:
            for row in left:
                pipe.exists(idem_key(row.sku, import_key(job_id, row)))
            found = await pipe.execute()
        left = [row for row, there in zip(left, found, strict=True) if not there]
        applied = len(rows) - len(left)
        await c.redis.hset(key, "applied", applied)
        if not left or time.monotonic() > deadline:
            break
        await asyncio.sleep(APPLY_POLL_S)
    return applied


@router.post("/inventory/import", status_code=202)
async def import_stock(
    request: Request,
    c: ContainerDep,
    who: AdminDep,
    dry_run: bool = False,
    partial: bool = False,
) -> JSONResponse:
    """Load stock counts (CSV or JSON lines, told apart by the content type or the content)
    as ``set_on_hand`` commands through Kafka. All or nothing: a file with a bad row is
    refused whole with every problem listed (``partial=true`` sends the good rows anyway).
    ``dry_run=true`` checks the file and sends nothing. The job says when every row is
    applied in truth (``GET /jobs/{id}``: published, then applied)."""
    body = await read_bounded(request, MAX_IMPORT_BYTES, "import")
    parsed = parse_import(body, request.headers.get("content-type", ""))
    report = {
        "format": parsed.format,
        "rows": len(parsed.rows),
        "errors": parsed.errors[:MAX_ERRORS_SHOWN],
        "error_count": len(parsed.errors),
    }
    if dry_run:
        return JSONResponse({"dry_run": True, **report}, 200)
    if not parsed.rows or (parsed.errors and not partial):
        message = "no valid rows" if not parsed.rows else "the file has errors; nothing was sent"
        raise HTTPException(400, {"message": message, **report})
    job_id = new_id()
    key = job_key(job_id)
    await c.redis.hset(
        key,
        mapping={
            "kind": "inventory-import",
            "status": "running",
            "format": parsed.format,
            "rows": len(parsed.rows),
            "errors": len(parsed.errors),
            "error_list": orjson.dumps(parsed.errors[:MAX_ERRORS_KEPT]).decode(),
            "published": 0,
            "applied": 0,
        },
    )
    await c.redis.expire(key, JOB_TTL_S)
    who.audit("inventory import", job=job_id, rows=len(parsed.rows))
    task = asyncio.create_task(_run_import(c, job_id, parsed, job_id))
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)
    return JSONResponse({"job_id": job_id, **report}, 202)


@router.get("/jobs/{job_id}")
async def get_job(job_id: str, c: ContainerDep, _who: AdminDep) -> dict[str, Any]:
    """Status and counts of an admin job."""
    raw = await c.redis.hgetall(job_key(job_id))
    if not raw:
        raise HTTPException(404, "unknown job")
    doc: dict[str, Any] = {as_text(k): as_text(v) for k, v in raw.items()}
    for n in ("rows", "errors", "published", "applied"):
        if n in doc:
            doc[n] = int(doc[n])
    if "error_list" in doc:
        doc["error_list"] = orjson.loads(doc["error_list"])
    return {"job_id": job_id, **doc}
