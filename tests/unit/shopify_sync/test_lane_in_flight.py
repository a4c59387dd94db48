"""More than one Admin API call of a store in flight: a change arriving while a call is out
goes out beside it, on SKUs no round in flight holds; a newer change of a held SKU waits for
its call; writes in doubt are never replayed beside the call they repeat."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from unit.shopify_sync.harness import BASE, Rig, rig, store

from shopify_sync.adapters.shopify import TransientError
from shopify_sync.domain.quantities import Pending
from shopify_sync.lanes import Lane, LaneConfig
from shopify_sync.writer import Outcome
from support.poll import await_for

UP = "up.myshopify.com"
MUTATION = "SetInventoryQuantities"


class Holding(httpx.AsyncBaseTransport):
    """The simulator behind a gate: the first mutation waits for :attr:`release`; a
    mutation numbered in ``fail`` fails as a dropped connection."""

    def __init__(self, inner: httpx.AsyncBaseTransport, fail: frozenset[int] = frozenset()):
        self.inner = inner
        self.fail = fail
        self.release = asyncio.Event()
        self.held = asyncio.Event()
        self.mutations = 0
        self.answered = 0
        self.arrivals: list[int] = []  # mutations answered when each mutation arrived

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content or b"{}")
        if body.get("operationName") == MUTATION:
            self.mutations += 1
            self.arrivals.append(self.answered)
            number = self.mutations
            if number in self.fail:
                raise httpx.ConnectError("connection dropped", request=request)
            if number == 1:
                self.held.set()
                await self.release.wait()
            response = await self.inner.handle_async_request(request)
            self.answered += 1
            return response
        return await self.inner.handle_async_request(request)


@contextlib.asynccontextmanager
async def gated(r: Rig, fail: frozenset[int] = frozenset()) -> AsyncIterator[Holding]:
    gate = Holding(r.http._transport, fail)
    async with httpx.AsyncClient(transport=gate, base_url=BASE) as http:
        r.client.http = http
        try:
            yield gate
        finally:
            gate.release.set()


@contextlib.asynccontextmanager
async def running(lane: Lane) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(lane.run())
    try:
        yield task
    finally:
        lane.stop()
        await asyncio.wait_for(task, 5)


def lane_of(r: Rig, in_flight: int = 2) -> Lane:
    config = LaneConfig(window_s=0.0, discover=False, in_flight=in_flight)
    return Lane(r.stores[UP], r.writer, r.state, r.client, r.mapping, config, r.clock.sleep)


async def test_a_change_goes_out_beside_a_call_still_in_flight() -> None:
    async with rig([store(UP, "plus")]) as r, gated(r) as gate:
        await r.seed(UP, {"A": 1, "B": 1})
        lane = lane_of(r)
        await r.state.record(UP, {("A", "wh-1"): Pending(1, 7)})
        async with running(lane):
            await await_for("A's call in flight", gate.held.wait, timeout_s=10)
            await r.state.record(UP, {("B", "wh-1"): Pending(1, 9)})
            lane.wake.set()

            async def b_shown() -> bool:
                return (await r.inventory(UP))["B"] == 9

            await await_for("B written while A's call is out", b_shown, timeout_s=5)
            assert gate.answered == 1 and (await r.inventory(UP))["A"] == 1  # A still out
            gate.release.set()

            async def a_shown() -> bool:
                return (await r.inventory(UP))["A"] == 7

            await await_for("A written once released", a_shown, timeout_s=10)
        assert await r.state.pending(UP) == {}
        assert gate.arrivals == [0, 0]  # B's call went out before A's was answered


async def test_a_newer_change_of_a_sku_in_flight_waits_for_its_call() -> None:
    async with rig([store(UP, "plus")]) as r, gated(r) as gate:
        await r.seed(UP, {"A": 1, "B": 1})
        lane = lane_of(r)
        await r.state.record(UP, {("A", "wh-1"): Pending(1, 7)})
        async with running(lane):
            await await_for("A's call in flight", gate.held.wait, timeout_s=10)
            await r.state.record(UP, {("A", "wh-1"): Pending(2, 4), ("B", "wh-1"): Pending(1, 9)})
            lane.wake.set()

            async def b_shown() -> bool:
                return (await r.inventory(UP))["B"] == 9

            await await_for("B written while A's call is out", b_shown, timeout_s=5)
            # the round that wrote B saw A's newer change and left it to A's call
            assert (await r.inventory(UP))["A"] == 1
            assert gate.mutations == 2
            assert (await r.state.pending(UP))[("A", "wh-1")].version == 2
            gate.release.set()

            async def a_final() -> bool:
                return (await r.inventory(UP))["A"] == 4 and not await r.state.pending(UP)

            await await_for("A's newer change written after its call", a_final, timeout_s=10)
        assert gate.mutations == 3


async def test_one_round_at_a_time_is_the_old_behaviour() -> None:
    async with rig([store(UP, "plus")]) as r, gated(r) as gate:
        await r.seed(UP, {"A": 1, "B": 1})
        lane = lane_of(r, in_flight=1)
        await r.state.record(UP, {("A", "wh-1"): Pending(1, 7)})
        async with running(lane):
            await await_for("A's call in flight", gate.held.wait, timeout_s=10)
            await r.state.record(UP, {("B", "wh-1"): Pending(1, 9)})
            lane.wake.set()
            gate.release.set()

            async def both() -> bool:
                return await r.inventory(UP) == {"A": 7, "B": 9}

            await await_for("both written", both, timeout_s=10)
        assert gate.arrivals == [0, 1]  # B's call went out only once A's was answered


async def test_writes_in_doubt_are_not_replayed_beside_a_call_in_flight() -> None:
    async with rig([store(UP, "plus")]) as r, gated(r) as gate:
        await r.seed(UP, {"A": 1})
        shop = r.stores[UP]
        await r.state.record(UP, {("A", "wh-1"): Pending(1, 7)})
        first = asyncio.create_task(r.writer.push_pending(shop))
        await await_for("A's call in flight", gate.held.wait, timeout_s=10)
        assert len(await r.writer.intents.all(UP)) == 1  # recorded before the call
        r.writer.settled_shops.discard(UP)  # as after a round that failed
        out = await r.writer.push_pending(shop)
        assert out.waiting and out.calls == 0
        assert gate.mutations == 1  # the intent of the call in flight was not sent again
        gate.release.set()
        assert (await first).applied == 1
        again = await r.writer.push_pending(shop)  # alone now: resolves, nothing left
        assert not again.waiting and UP in r.writer.settled_shops
        assert gate.mutations == 1 and await r.inventory(UP) == {"A": 7}


async def test_a_round_that_failed_leaves_the_shop_to_resolve_whatever_ends_after_it() -> None:
    async with rig([store(UP, "plus")]) as r, gated(r, fail=frozenset({2})) as gate:
        await r.seed(UP, {"A": 1, "B": 1})
        shop = r.stores[UP]
        await r.state.record(UP, {("A", "wh-1"): Pending(1, 7)})
        first = asyncio.create_task(r.writer.push_pending(shop))
        await await_for("A's call in flight", gate.held.wait, timeout_s=10)
        await r.state.record(UP, {("B", "wh-1"): Pending(1, 9)})
        with pytest.raises(TransientError):
            await r.writer.push_pending(shop)  # B's call: the connection drops
        gate.release.set()
        assert (await first).applied == 1  # A's round ends well after B's failed ...
        assert UP not in r.writer.settled_shops  # ... and B's write is still to resolve
        assert len(await r.writer.intents.all(UP)) == 1  # B's, left in doubt


async def test_a_second_round_starts_only_when_the_bucket_pays_for_its_call_now() -> None:
    """A store whose budget is the limit keeps one round at a time: a round started beside
    the one in flight would take its snapshot and then wait for budget, its changes going out
    later than if they waited for the next round (budget first, then the snapshot)."""
    async with rig([store(UP, "standard")]) as r:
        await r.seed(UP, {"A": 1})
        lane = lane_of(r)
        in_flight: set[asyncio.Task[Outcome | None]] = {asyncio.create_task(asyncio.sleep(0))}
        try:
            assert not lane._budget_for(in_flight)  # the bucket is not known yet
            await r.state.record(UP, {("A", "wh-1"): Pending(1, 7)})
            await r.writer.push_pending(r.stores[UP])  # learns the bucket
            bucket = r.client.shop(UP).bucket
            assert bucket.known and lane._budget_for(in_flight)  # a full bucket pays for two
            bucket.level, bucket.at = 15.0, r.clock()  # one write's worth left
            assert not lane._budget_for(in_flight)
            assert lane._budget_for(set())  # the first round is never held back by this
        finally:
            await asyncio.gather(*in_flight)
