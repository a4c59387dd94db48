"""Reconciliation: read every level of each store, compare with truth, and correct drift
through the normal write path (corrections are recorded as pending changes, so they are
paced, batched and compare-and-set like any other write)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from shopify_sync.adapters import metrics
from shopify_sync.adapters.jobs import RedisJobs
from shopify_sync.adapters.truth import TruthSource
from shopify_sync.domain.drift import StoreReport, compare, overall
from shopify_sync.domain.quantities import ItemKey, Pending, Target
from shopify_sync.lanes import Lanes
from shopify_sync.mapping import CatalogMapping, store_levels
from shopify_sync.ports import SyncState
from stocksync_common.events import SkuLevels
from stocksync_common.stores import Store, StoresConfig

log = logging.getLogger(__name__)
_NO_PENDING = Pending(0, 0)  # a target read for its level only


@dataclass
class Reconciler:
    stores: StoresConfig
    mapping: CatalogMapping
    state: SyncState
    truth: TruthSource
    lanes: Lanes
    targeted_truth: TruthSource | None = None  # per-SKU source for targeted runs
    # A full run checks at most this many drifted SKUs per store against the read API.
    confirm_limit: int = 500

    async def run(
        self, shops: Sequence[str] | None = None, skus: Sequence[str] | None = None
    ) -> dict[str, Any]:
        started = time.monotonic()
        source = self.targeted_truth if skus and self.targeted_truth else self.truth
        truth = await source.snapshot(skus)
        chosen = [s for s in self.stores.stores if not shops or s.shop in shops]
        reports = await asyncio.gather(*(self._store(s, truth, skus) for s in chosen))
        by_shop = {r.shop: r for r in reports}
        result = {
            "truth_skus": len(truth),
            "stores": {shop: r.summary() for shop, r in by_shop.items()},
            **overall(by_shop),
            "seconds": round(time.monotonic() - started, 3),
        }
        log.info("reconciliation done", extra={k: result[k] for k in ("compared", "mismatched")})
        return result

    async def _store(
        self, store: Store, truth: dict[str, SkuLevels], skus: Sequence[str] | None
    ) -> StoreReport:
        if skus:
            listed, levels = await self._read_some(store, skus)
        else:
            found, _method = await self.mapping.read_and_save(store)
            listed, levels = set(found.entries), store_levels(store, found)
            await self.mapping.note_missing(store, [s for s in truth if s not in listed])
        report = compare(store, truth, listed, levels)
        if not skus:
            report = await self._confirmed(store, report, listed, levels)
        kept = await self.state.record(store.shop, report.corrections())
        if kept:
            self.lanes.wake(store.shop)
        metrics.MISMATCH.labels(store.shop).set(report.mismatch_rate)
        metrics.DRIFT.labels(store.shop).inc(report.mismatched)
        log.info(
            "store reconciled",
            extra={"shop": store.shop, "compared": report.compared, "drift": report.mismatched,
                   "corrections_recorded": kept},
        )  # fmt: skip
        return report

    async def _confirmed(
        self,
        store: Store,
        report: StoreReport,
        listed: set[str],
        levels: dict[ItemKey, int | None],
    ) -> StoreReport:
        """A full run compares the store with the compacted levels topic; each SKU found
        drifted there is checked against inventory-adjuster's read API before it counts. A
        kit's record on the topic is its own hash's, not its availability (ADR 0008), so
        every store listing a kit looked drifted; a record older than a change still on its
        way looks drifted the same way. Beyond ``confirm_limit`` SKUs (a store far from
        truth), or when the read API cannot answer, the topic's report stands."""
        suspects = sorted({d.key[0] for d in report.drift})
        if self.targeted_truth is None or not suspects or len(suspects) > self.confirm_limit:
            return report
        try:
            live = await self.targeted_truth.snapshot(suspects)
        except (httpx.HTTPError, ValueError):
            log.warning("drift not confirmed: the read API did not answer", exc_info=True,
                        extra={"shop": store.shop, "skus": len(suspects)})  # fmt: skip
            return report
        again = compare(store, live, listed, {k: v for k, v in levels.items() if k[0] in live})
        report.drift = [d for d in report.drift if d.key[0] not in live] + again.drift
        return report

    async def _read_some(
        self, store: Store, skus: Sequence[str]
    ) -> tuple[set[str], dict[ItemKey, int | None]]:
        mapped = await self.mapping.resolve(store, skus)
        targets = [
            Target((sku, location), _NO_PENDING, entry.item_id, gid)
            for sku, entry in mapped.items()
            for location, gid in store.locations.items()
        ]
        return set(mapped), await self.mapping.read_levels(store, targets)


@dataclass
class ReconcileJobs:
    reconciler: Reconciler
    jobs: RedisJobs
    owner: str

    async def start(
        self, shops: Sequence[str] | None = None, skus: Sequence[str] | None = None
    ) -> str:
        job_id = await self.jobs.create("reconcile", {"shops": shops, "skus": skus})
        task = asyncio.create_task(self._run(job_id, shops, skus), name=f"reconcile:{job_id}")
        _TASKS.add(task)
        task.add_done_callback(_TASKS.discard)
        return job_id

    async def _run(
        self, job_id: str, shops: Sequence[str] | None, skus: Sequence[str] | None
    ) -> None:
        try:
            result = await self.reconciler.run(shops, skus)
        except Exception as exc:  # noqa: BLE001 - recorded on the job for the caller
            log.exception("reconciliation failed", extra={"job": job_id})
            metrics.RECONCILE_RUNS.labels("failed").inc()
            await self.jobs.finish(job_id, "failed", error=f"{type(exc).__name__}: {exc}"[:500])
            return
        metrics.RECONCILE_RUNS.labels("done").inc()
        await self.jobs.finish(job_id, "done", result=result)

    async def schedule(self, interval_s: float) -> None:
        """Every ``interval_s``, one replica (the lock holder) runs a full reconciliation."""
        while True:
            await asyncio.sleep(interval_s)
            if await self.jobs.lock(self.owner, interval_s * 0.9):
                await self._run(
                    await self.jobs.create("reconcile", {"scheduled": True}), None, None
                )


_TASKS: set[asyncio.Task[None]] = set()
