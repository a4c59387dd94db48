"""One lane per shop: its own task draining that shop's pending changes.

A slow or failing store never delays the others. The consumer records changes as pending
(durable) and wakes the lane; the lane waits a short coalescing window, then pushes
everything pending in as few calls as the 250-quantity limit allows. When the bucket is
short the lane waits for budget, and changes arriving meanwhile coalesce in the pending
map (latest value per item) so the next call carries more: under load, batches grow
instead of calls piling up. Transient failures back off 1 s, 2 s, 4 s, 8 s; an open circuit
holds the lane until its half-open probe, and everything pending is pushed when it closes.

Up to ``in_flight`` rounds run at once: a change that arrives while a call is in flight
goes out in a round of its own instead of waiting for that call to come back, on SKUs the
rounds in flight do not hold (``Writer``), but only while the bucket pays for that call now
(a store whose budget is the limit keeps one round at a time: budget first, then the
snapshot, as much coalesced as it can be). After a failure the lane runs one round at a
time until a round succeeds. The default is one (ADR 0005: with two, a discovery's read
overwrote levels another round had just written, and sales were left unwritten; reads no
longer overwrite newer writes, see ``SyncState.stamp``; with that fixed, two measured no
faster on this machine).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Protocol

from shopify_sync.adapters import metrics
from shopify_sync.adapters.documents import MUTATION_COST
from shopify_sync.adapters.shopify import CircuitOpen, ShopifyClient, ShopifyError
from shopify_sync.mapping import CatalogMapping
from shopify_sync.ports import SyncState
from shopify_sync.writer import Outcome, Writer
from stocksync_common.redis_client import REDIS_ERRORS, redis_failed, redis_failures_suppressed
from stocksync_common.stores import Store

log = logging.getLogger(__name__)
Sleep = Callable[[float], Awaitable[None]]
_DISCOVERY_FAILED: tuple[type[Exception], ...] = (ShopifyError, TimeoutError, *REDIS_ERRORS)


class LeaseLike(Protocol):
    async def hold(self) -> bool: ...

    async def release(self) -> None: ...


@dataclass
class LaneConfig:
    window_s: float = 0.005  # coalescing, only for a lane that pushed within busy_s
    poll_s: float = 0.05
    backoff_s: Sequence[float] = (1.0, 2.0, 4.0, 8.0)
    discover: bool = True
    discover_timeout_s: float = 600.0
    busy_s: float = 0.05
    gauge_s: float = 1.0  # the pending gauge is read from Redis at most this often
    in_flight: int = 1  # rounds (so Admin API calls) of one store running at once


@dataclass
class Lane:
    store: Store
    writer: Writer
    state: SyncState
    client: ShopifyClient
    mapping: CatalogMapping
    config: LaneConfig
    sleep: Sleep = asyncio.sleep
    lease: LeaseLike | None = None
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    last: Outcome | None = None  # the last round that did something (not an empty look)
    last_round_at: float | None = None  # epoch seconds it ended
    last_push_at: float | None = None  # epoch seconds of the last round that applied changes
    failures: int = 0
    # Called when a round lowered stores under channel allocation: the room they gave up
    # may be what another lane's held raise waits for (Lanes wakes the others).
    on_gave_up: Callable[[], None] | None = None
    _stopping: bool = False
    _discovered: bool = False
    _gauged: float = float("-inf")  # monotonic time the pending gauge was last read
    _round_ended: float = float("-inf")  # monotonic end of the last round that sent a write

    async def run(self) -> None:
        self.wake.set()  # whatever was pending before a restart goes out first
        rounds: set[asyncio.Task[Outcome | None]] = set()
        try:
            while not self._stopping:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), timeout=self.config.poll_s)
                woken = self.wake.is_set()
                self.wake.clear()
                try:
                    if self._stopping or not await self._ready():
                        continue
                    if len(rounds) >= self._room() or (rounds and not self._budget_for(rounds)):
                        # full, or the bucket pays for no other call now: a round started now
                        # would take its snapshot and then wait for budget, its changes going
                        # out later than in the next round after this one (a store on a small
                        # plan lost most of its coalescing so). The next wake-up comes when a
                        # round ends (it wakes the lane).
                        await asyncio.wait(rounds, return_when=asyncio.FIRST_COMPLETED)
                        self.wake.set()
                        continue
                    if woken and self.config.window_s and self._busy():
                        await self.sleep(self.config.window_s)  # under load: let a burst coalesce
                    task = asyncio.create_task(self.round())
                    rounds.add(task)
                    task.add_done_callback(rounds.discard)
                except Exception:  # noqa: BLE001 - a lane never dies: its changes stay pending
                    log.exception("lane step failed; retrying", extra={"shop": self.store.shop})
                    await self.sleep(self.config.backoff_s[0])
                    self.wake.set()
        finally:
            for task in rounds:
                task.cancel()
            await asyncio.gather(*rounds, return_exceptions=True)

    def _budget_for(self, rounds: set[asyncio.Task[Outcome | None]]) -> bool:
        """Whether the bucket pays now for one more write beside those of ``rounds``."""
        bucket = self.client.shop(self.store.shop).bucket
        return bucket.known and bucket.delay_for(MUTATION_COST * (len(rounds) + 1)) == 0.0

    def _room(self) -> int:
        """Rounds that may run at once: one after a failure, until a round succeeds."""
        return 1 if self.failures else max(1, self.config.in_flight)

    def _busy(self) -> bool:
        """Sent a write a moment ago: more is likely on its way. An idle lane writes at once."""
        return time.monotonic() - self._round_ended < self.config.busy_s

    async def _ready(self) -> bool:
        try:
            if self.lease is not None and not await self.lease.hold():
                return False
        except REDIS_ERRORS as exc:
            if not redis_failed(exc):
                raise
            log.warning("lease check failed", extra={"shop": self.store.shop}, exc_info=True)
            return False
        wait = self.client.shop(self.store.shop).breaker.wait_s()
        if wait > 0:
            await self.sleep(min(wait, 1.0))
            self.wake.set()  # check again (the probe may be due)
            return False
        if self.config.discover and not self._discovered:
            await self._discover()
        return True

    async def _discover(self) -> None:
        """Map the store once at start unless a mapping exists (lookups fill the gaps)."""
        try:
            meta = await self.mapping.catalog.meta(self.store.shop)
            if "discovery" not in meta:
                async with asyncio.timeout(self.config.discover_timeout_s):
                    await self.mapping.discover(self.store)
            self._discovered = True
        except _DISCOVERY_FAILED as exc:
            if isinstance(exc, REDIS_ERRORS) and not redis_failed(exc):
                raise
            log.warning("catalog discovery failed", extra={"shop": self.store.shop}, exc_info=True)
            self._discovered = True  # lookups by SKU still work; reconciliation rediscovers

    async def round(self) -> Outcome | None:
        """Push what is pending now; back off on a transient failure."""
        shop = self.store.shop
        try:
            out = await self.writer.push_pending(self.store)
        except CircuitOpen:
            self.wake.set()
            return None
        except Exception as exc:  # noqa: BLE001 - a lane never dies; its changes stay pending
            if not (isinstance(exc, ShopifyError) or redis_failed(exc)):
                log.exception("unexpected failure in the push round", extra={"shop": shop})
            delay = self.config.backoff_s[min(self.failures, len(self.config.backoff_s) - 1)]
            self.failures += 1
            log.warning(
                "push failed; changes stay pending",
                extra={"shop": shop, "error": str(exc), "retry_in_s": delay},
            )
            await self.sleep(delay)
            self.wake.set()
            return None
        self.failures = 0
        if _worked(out):  # the status page shows the last round that did something
            self.last, self.last_round_at = out, time.time()
        if out.calls:
            # busy: more is likely on its way. Not after a round that found nothing to send
            # (the lane looks every poll_s): that kept an idle lane "busy" for good, and every
            # single sale waited out the coalescing window.
            self._round_ended = time.monotonic()
        if out.applied:
            self.last_push_at = time.time()
        if out.deferred or out.calls or out.waiting or out.freed:
            # more may have arrived meanwhile; or what a round left to this one can go now
            self.wake.set()
        if out.gave_up and self.on_gave_up is not None:
            self.on_gave_up()
        if time.monotonic() - self._gauged >= self.config.gauge_s:
            with redis_failures_suppressed():
                metrics.PENDING.labels(shop).set(await self.state.pending_count(shop))
            self._gauged = time.monotonic()
        return out

    def stop(self) -> None:
        self._stopping = True
        self.wake.set()


def _worked(out: Outcome) -> bool:
    """A round that wrote, settled, rejected or held something (not an empty look)."""
    idle = ("busy", "freed", "waiting")  # what a look that did nothing may still say
    return any(v for k, v in dataclasses.asdict(out).items() if k not in idle)


@dataclass
class Lanes:
    lanes: dict[str, Lane] = field(default_factory=dict)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def wake(self, shop: str) -> None:
        lane = self.lanes.get(shop)
        if lane is not None:
            lane.wake.set()

    def start(self) -> None:
        self.link()
        for shop, lane in self.lanes.items():
            self.tasks.append(asyncio.create_task(lane.run(), name=f"lane:{shop}"))

    def link(self) -> None:
        """A lane that gave up room under allocation wakes the others at once."""
        for shop, lane in self.lanes.items():
            lane.on_gave_up = partial(self.wake_all_but, shop)

    def wake_all_but(self, shop: str) -> None:
        for other, lane in self.lanes.items():
            if other != shop:
                lane.wake.set()

    async def stop(self) -> None:
        for lane in self.lanes.values():
            lane.stop()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.tasks.clear()
        for lane in self.lanes.values():
            if lane.lease is not None:
                with redis_failures_suppressed():
                    await lane.lease.release()
