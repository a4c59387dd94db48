"""``/healthz``, ``/readyz`` and ``/metrics`` for every service."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

log = logging.getLogger(__name__)

Check = Callable[[], Awaitable[bool]]
# Asked by the DLQ replayer about a dependency named ``<family>:<argument>`` (ADR 0009 §11).
FamilyCheck = Callable[[str], Awaitable[bool]]


@dataclass
class Health:
    """What the probes report: liveness problems and named readiness checks."""

    checks: dict[str, Check] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    # Not readiness: what the DLQ replayer asks of a dependency named ``<family>:<argument>``
    # (one store's cut bucket, ``shopify-bucket:<shop>:<points>``), by family.
    families: dict[str, FamilyCheck] = field(default_factory=dict)

    def fail(self, reason: str) -> None:
        """Mark the process as not alive (a background task died); the liveness probe fails."""
        self.failures.append(reason)

    async def readiness(self, timeout_s: float = 2.0) -> dict[str, bool]:
        async def run(check: Check) -> bool:
            try:
                async with asyncio.timeout(timeout_s):
                    return await check()
            except Exception:  # noqa: BLE001 - any failure means not ready
                return False

        names = list(self.checks)
        results = await asyncio.gather(*(run(self.checks[n]) for n in names))
        return dict(zip(names, results, strict=True))


def ops_router(health: Health) -> APIRouter:
    router = APIRouter(tags=["ops"])

    @router.get("/healthz")
    async def healthz() -> JSONResponse:
        """Liveness: the process and its background workers are alive."""
        if health.failures:
            return JSONResponse({"status": "failing", "failures": health.failures}, 503)
        return JSONResponse({"status": "ok"})

    @router.get("/readyz")
    async def readyz() -> JSONResponse:
        """Readiness: Kafka, Redis and downstream dependencies answer."""
        results = await health.readiness()
        ok = all(results.values()) and not health.failures
        body = {"status": "ready" if ok else "not-ready", "checks": results}
        return JSONResponse(body, 200 if ok else 503)

    @router.get("/metrics")
    async def metrics() -> Response:
        """Prometheus exposition."""
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router
