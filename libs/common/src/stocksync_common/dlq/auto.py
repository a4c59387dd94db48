"""Automatic replay: DLQ records that failed on a dependency go back once it is healthy.

A record whose reason is ``dependency:<name>`` is replayed (to its group's retry path, like a
manual replay) as soon as the health check named ``<name>`` passes: the service's own readiness
checks (``redis``, ``kafka``, ...) or extra ones it passes in. A dependency named
``<family>:<argument>`` without a check of its own is asked of its family's check with the
argument (shopify-sync's ``shopify-bucket:<shop>:<points>``: that store's bucket holds the
points again, ADR 0035 §4). A dependency without a check is left for a person to replay.
Every replica may run this: the replay claim in Redis makes sure a record goes back once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from functools import partial

from stocksync_common.dlq import DlqRecord
from stocksync_common.dlq.admin import DlqAdmin
from stocksync_common.ops import FamilyCheck

log = logging.getLogger(__name__)

Check = Callable[[], Awaitable[bool]]
PREFIX = "dependency:"
CHECK_TIMEOUT_S = 2.0


SCAN_LIMIT = 2000  # records read per topic and round: a huge DLQ is followed, not reread


class AutoReplayer:
    """Follows each DLQ from where it last read (a DLQ of 40,000 old records is read once,
    2,000 records a round, not reread every second) and keeps the records still waiting for
    a dependency; those go back once its check passes."""

    def __init__(
        self,
        admin: DlqAdmin,
        checks: Mapping[str, Check],
        interval_s: float = 1.0,
        families: Mapping[str, FamilyCheck] | None = None,
    ) -> None:
        self.admin = admin
        self.checks = checks
        self.families = families if families is not None else {}
        self.interval_s = interval_s
        self._cursor: dict[str, dict[int, int]] = {}  # topic -> partition -> next offset
        self._waiting: dict[str, dict[str, DlqRecord]] = {}  # topic -> id -> record
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
            if group not in self.admin.producers:
                replayed += await self._topic(topic)
        return replayed

    async def _topic(self, topic: str) -> list[str]:
        fresh, cursor, low = await self.admin.read_from(
            topic, self._cursor.get(topic, {}), SCAN_LIMIT
        )
        self._cursor[topic] = cursor
        waiting = self._waiting.setdefault(topic, {})
        for rec in fresh:
            if rec.reason.startswith(PREFIX):
                waiting[rec.id] = rec
        for rid, rec in list(waiting.items()):
            if rec.offset < low.get(rec.partition, 0):
                del waiting[rid]  # purged
        if not waiting:
            return []
        by_dep: dict[str, list[DlqRecord]] = {}
        for rec in waiting.values():
            by_dep.setdefault(rec.reason.removeprefix(PREFIX), []).append(rec)
        due = {dep: recs for dep, recs in by_dep.items() if await self.healthy(dep)}
        if not due:
            return []
        replayed: list[str] = []
        for recs in due.values():
            # replay() skips a record already replayed (by a person, or another replica)
            replayed += await self.admin.replay(recs, "auto-replay", trigger="auto")
            for rec in recs:
                waiting.pop(rec.id, None)
        if replayed:
            log.info("DLQ records replayed automatically", extra={"dlq": topic, "n": len(replayed)})
        return replayed

    async def healthy(self, dependency: str) -> bool:
        check = self.checks.get(dependency)
        if check is None:
            family, _, argument = dependency.partition(":")
            asked = self.families.get(family) if argument else None
            if asked is None:
                return dependency == "kafka"  # we just read the DLQ from it
            check = partial(asked, argument)
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_S):
                return bool(await check())
        except Exception:  # noqa: BLE001 - any failure means not healthy yet
            return False
