"""Admin jobs that survive a restart: catalog sync, reconciliation, mapping import.

A job is created in Redis (``sync:job:{<id>}``, see ``adapters.jobs``) and listed in
``sync:jobs:active`` until it ends; the caller gets its id at once. One replica runs it,
holding ``sync:job-lease:{<id>}`` (renewed while it runs). On start every replica looks at
the active jobs and takes over those whose lease lapsed (their runner died): the job goes
on from the progress it recorded (a catalog sync skips the chunks already written).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis

from shopify_sync.adapters.jobs import RedisJobs
from shopify_sync.adapters.lease import Lease
from shopify_sync.adapters.redis_state import text
from stocksync_common.redis_client import redis_failures_suppressed

log = logging.getLogger(__name__)
ACTIVE_KEY = "sync:jobs:active"
Report = Callable[[dict[str, Any]], Awaitable[None]]
JobFn = Callable[[dict[str, Any], dict[str, Any], Report], Awaitable[dict[str, Any]]]


@dataclass
class JobRunner:
    jobs: RedisJobs
    redis: Redis
    owner: str
    kinds: dict[str, JobFn]
    lease_ttl_s: float = 30.0
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def submit(self, kind: str, params: dict[str, Any]) -> str:
        if kind not in self.kinds:
            raise ValueError(f"unknown job kind {kind}")
        job_id = await self.jobs.create(kind, params)
        await self.jobs.update(job_id, status="queued", progress={})
        await self.redis.sadd(ACTIVE_KEY, job_id)
        self._spawn(job_id)
        return job_id

    def _spawn(self, job_id: str) -> None:
        task = asyncio.create_task(self._run(job_id), name=f"job:{job_id}")
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def resume(self) -> int:
        """Take over the active jobs nobody holds (called on start)."""
        ids = [text(i) for i in await self.redis.smembers(ACTIVE_KEY)]
        for job_id in ids:
            self._spawn(job_id)
        return len(ids)

    async def _keep(self, lease: Lease) -> None:
        while True:
            await asyncio.sleep(self.lease_ttl_s / 3)
            with redis_failures_suppressed():
                await lease.hold()

    async def _run(self, job_id: str) -> None:
        lease = Lease(self.redis, f"sync:job-lease:{{{job_id}}}", self.owner, self.lease_ttl_s)
        while not await lease.hold():  # another runner has it: stand by until it lapses
            doc = await self.jobs.get(job_id)
            if doc is None or doc.get("status") not in ("queued", "running"):
                return
            await asyncio.sleep(self.lease_ttl_s / 3)
        keeper = asyncio.create_task(self._keep(lease))
        try:
            await self._execute(job_id)
        finally:
            keeper.cancel()
            with redis_failures_suppressed():
                await lease.release()

    async def _execute(self, job_id: str) -> None:
        doc = await self.jobs.get(job_id)
        if doc is None or doc.get("status") not in ("queued", "running"):
            await self.redis.srem(ACTIVE_KEY, job_id)
            return
        resumed = doc.get("status") == "running"
        await self.jobs.update(job_id, status="running", runner=self.owner, resumed=resumed)

        async def report(progress: dict[str, Any]) -> None:
            await self.jobs.update(job_id, progress=progress)

        try:
            result = await self.kinds[str(doc["kind"])](
                doc.get("params") or {}, dict(doc.get("progress") or {}), report
            )
        except asyncio.CancelledError:
            raise  # shutting down: the job stays active for the next start
        except Exception as exc:  # noqa: BLE001 - recorded on the job for the caller
            log.exception("job failed", extra={"job": job_id})
            await self.jobs.finish(job_id, "failed", error=f"{type(exc).__name__}: {exc}"[:500])
        else:
            await self.jobs.finish(job_id, "done", progress=result, result=result)
        await self.redis.srem(ACTIVE_KEY, job_id)

    async def stop(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
