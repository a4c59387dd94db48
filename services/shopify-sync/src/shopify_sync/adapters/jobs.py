"""Admin jobs (reconciliation runs) in Redis: ``sync:job:{<id>}`` holds the job as JSON for a
week, so any replica answers ``GET /jobs/{id}``. ``sync:reconcile:lock`` lets one replica
run the scheduled reconciliation."""

from __future__ import annotations

import json
import time
from typing import Any

from redis.asyncio import Redis

from stocksync_common.events import new_id

JOB_TTL_S = 7 * 24 * 3600
LOCK_KEY = "sync:reconcile:lock"


def job_key(job_id: str) -> str:
    return f"sync:job:{{{job_id}}}"


class RedisJobs:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def create(self, kind: str, params: dict[str, Any]) -> str:
        job_id = new_id()
        doc = {"job_id": job_id, "kind": kind, "status": "running", "params": params,
               "created_at": time.time()}  # fmt: skip
        await self.redis.set(job_key(job_id), json.dumps(doc), ex=JOB_TTL_S)
        return job_id

    async def finish(self, job_id: str, status: str, **fields: Any) -> None:
        doc = await self.get(job_id) or {"job_id": job_id}
        doc.update(fields, status=status, finished_at=time.time())
        await self.redis.set(job_key(job_id), json.dumps(doc), ex=JOB_TTL_S)

    async def update(self, job_id: str, **fields: Any) -> None:
        """Progress of a running job (read, merged, written: one writer per job, its lease)."""
        doc = await self.get(job_id) or {"job_id": job_id}
        doc.update(fields, updated_at=time.time())
        await self.redis.set(job_key(job_id), json.dumps(doc), ex=JOB_TTL_S)

    async def get(self, job_id: str) -> dict[str, Any] | None:
        raw = await self.redis.get(job_key(job_id))
        if raw is None:
            return None
        doc: dict[str, Any] = json.loads(raw)
        return doc

    async def lock(self, owner: str, ttl_s: float) -> bool:
        return bool(await self.redis.set(LOCK_KEY, owner, nx=True, px=int(ttl_s * 1000)))
