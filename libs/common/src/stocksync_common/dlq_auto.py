"""Automatic replay: DLQ records that failed on a dependency go back once it is healthy.

A record whose reason is ``dependency:<name>`` is replayed (to its group's retry path, like a
manual replay) as soon as the health check named ``<name>`` passes: the service's own readiness
checks (``redis``, ``kafka``, ...) or extra ones it passes in. A dependency without a check is
left for a person to replay. Every replica may run this: the replay claim in Redis makes sure a
record goes back once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping

from stocksync_common.dlq import DlqRecord
from stocksync_common.dlq_admin import DlqAdmin
from stocksync_common.topics import PRODUCER_DLQ_GROUPS

log = logging.getLogger(__name__)

Check = Callable[[], Awaitable[bool]]
PREFIX = "dependency:"
CHECK_TIMEOUT_S = 2.0


class AutoReplayer:
    def __init__(
        self, admin: DlqAdmin, checks: Mapping[str, Check], interval_s: float = 1.0
    ) -> None:
        self.admin = admin
        self.checks = checks
        self.interval_s = interval_s
        # Per topic: the state it was scanned in, and the dependencies its records wait for.
        self._seen: dict[str, tuple[tuple[int, ...], frozenset[str]]] = {}
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.run_once()
            except Exception:  # noqa: BLE001 - Kafka or Redis down: try again next round
                log.warning("automatic DLQ replay round failed", exc_info=True)
            try:
                await asyncio.wait_for(self._stopping.wait(), self.interval_s)
            except TimeoutError:
                pass

    def stop(self) -> None:
        self._stopping.set()

    async def run_once(self) -> list[str]:
        replayed: list[str] = []
        for topic, group, _ in self.admin.topics():
            if group not in PRODUCER_DLQ_GROUPS:
                replayed += await self._topic(topic)
        return replayed

    async def _topic(self, topic: str) -> list[str]:
        tps, _, ends = await self.admin.bounds(topic)
        if not tps:
            return []
        signature = tuple(ends[tp] for tp in tps)
        seen = self._seen.get(topic)
        if seen is not None and seen[0] == signature:
            healthy = [d for d in seen[1] if await self.healthy(d)]
            if not healthy:
                return []
        waiting = await self.admin.records(topic, "pending", limit=0, reason=PREFIX)
        by_dep: dict[str, list[DlqRecord]] = {}
        for rec in waiting:
            by_dep.setdefault(rec.reason.removeprefix(PREFIX), []).append(rec)
        self._seen[topic] = (signature, frozenset(by_dep))
        replayed: list[str] = []
        for dep, recs in by_dep.items():
            if await self.healthy(dep):
                replayed += await self.admin.replay(recs, "auto-replay", trigger="auto")
        if replayed:
            log.info("DLQ records replayed automatically", extra={"dlq": topic, "n": len(replayed)})
        return replayed

    async def healthy(self, dependency: str) -> bool:
        check = self.checks.get(dependency)
        if check is None:
            return dependency == "kafka"  # we just read the DLQ from it
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_S):
                return bool(await check())
        except Exception:  # noqa: BLE001 - any failure means not healthy yet
            return False
