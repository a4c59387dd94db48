"""A lane through a store outage: backoff, the circuit, nothing lost, and convergence."""

from __future__ import annotations

import asyncio

from unit.shopify_sync.harness import rig, store

from shopify_sync.domain.quantities import Pending
from shopify_sync.lanes import Lane, LaneConfig, Lanes
from stocksync_common.breaker import State
from support.poll import await_for
from support.redis_errors import cluster_unreachable

DOWN, UP = "down.myshopify.com", "up.myshopify.com"


async def test_an_outage_opens_the_circuit_keeps_changes_and_converges_after() -> None:
    async with rig([store(DOWN, "advanced"), store(UP, "plus")], failure_threshold=3) as r:
        for shop in (DOWN, UP):
            await r.seed(shop, {"A": 1, "B": 1})
        config = LaneConfig(window_s=0.0, backoff_s=(1.0, 2.0, 4.0, 8.0), discover=False)
        lanes = {
            shop: Lane(
                r.stores[shop], r.writer, r.state, r.client, r.mapping, config, r.clock.sleep
            )
            for shop in (DOWN, UP)
        }
        await r.faults(DOWN, error_rate=1.0, error_status=503)
        for shop in (DOWN, UP):
            await r.state.record(shop, {("A", "wh-1"): Pending(1, 5), ("B", "wh-1"): Pending(1, 6)})
        waits = []
        for _ in range(3):
            before = r.clock.now
            assert await lanes[DOWN].round() is None
            waits.append(r.clock.now - before)
        assert waits == [1.0, 2.0, 4.0]
        assert r.client.circuit(DOWN) == State.OPEN
        assert lanes[DOWN].last_push_at is None  # nothing applied yet (the ops console shows it)
        out = await lanes[UP].round()
        assert out is not None and out.applied == 2  # the other store keeps syncing
        assert lanes[UP].last_push_at is not None and lanes[DOWN].last_push_at is None
        assert await r.inventory(UP) == {"A": 5, "B": 6}
        # Newer changes while the circuit is open: kept, latest value per item.
        await r.state.record(DOWN, {("A", "wh-1"): Pending(2, 9)})
        sent = (await r.stats(DOWN))["requests"]
        assert await lanes[DOWN].round() is None  # open: nothing is sent
        assert (await r.stats(DOWN))["requests"] == sent
        assert await r.state.pending(DOWN) == {
            ("A", "wh-1"): Pending(2, 9),
            ("B", "wh-1"): Pending(1, 6),
        }
        await r.faults(DOWN)  # the store recovers
        r.clock.now += 5
        out = await lanes[DOWN].round()  # the half-open probe, then everything pending
        assert out is not None and out.applied == 2
        assert r.client.circuit(DOWN) == State.CLOSED
        assert await r.inventory(DOWN) == {"A": 9, "B": 6}
        assert await r.state.pending(DOWN) == {}
        assert r.dead.rejected == []


async def test_discovery_uses_pages_for_small_catalogs_and_bulk_for_large_ones() -> None:
    small, large = "small.myshopify.com", "large.myshopify.com"
    async with rig([store(small, "plus"), store(large, "plus")], bulk_threshold=20) as r:
        await r.seed(small, {f"S{i}": i for i in range(5)})
        await r.seed(large, {f"L{i}": i for i in range(50)})
        assert (await r.mapping.discover(r.stores[small]))["method"] == "paginated"
        assert (await r.mapping.discover(r.stores[large]))["method"] == "bulk"
        assert len(await r.catalog.all_entries(large)) == 50
        known = await r.state.known(large, [("L7", "wh-1")])
        assert known[("L7", "wh-1")].level == 7
        bulk = (await r.http.get("/_sim/requests?operation_name=RunBulkQuery")).json()
        assert [b["shop"] for b in bulk] == [large]


async def test_products_update_webhook_moves_a_renamed_sku() -> None:
    async with rig([store(UP, "plus")]) as r:
        await r.seed(UP, {"OLD": 3})
        await r.mapping.discover(r.stores[UP])
        (entry,) = await r.catalog.all_entries(UP)
        body = {
            "id": int(entry.product_id.rsplit("/", 1)[1]),
            "admin_graphql_api_id": entry.product_id,
            "variants": [{"id": 1, "admin_graphql_api_id": entry.variant_id, "sku": "NEW",
                          "inventory_item_id": int(entry.item_id.rsplit("/", 1)[1])}],
        }  # fmt: skip
        await r.mapping.apply_webhook(r.stores[UP], "products/update", body)
        assert [e.sku for e in await r.catalog.all_entries(UP)] == ["NEW"]
        await r.mapping.apply_webhook(r.stores[UP], "products/delete", {"id": body["id"]})
        assert await r.catalog.all_entries(UP) == []


class FlakyLease:
    """A lease whose first checks fail with something other than a RedisError (uvloop's
    RuntimeError on a reset socket was one), then hold."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.checks = 0

    async def hold(self) -> bool:
        self.checks += 1
        if self.checks <= self.failures:
            raise RuntimeError("unable to perform operation on <TCPTransport closed=True>")
        return True

    async def release(self) -> None:
        return None


async def test_a_lane_survives_an_unexpected_error_and_still_pushes() -> None:
    async with rig([store(UP, "plus")]) as r:
        await r.seed(UP, {"A": 1})
        config = LaneConfig(window_s=0.0, discover=False)
        lease = FlakyLease(failures=3)
        lane = Lane(r.stores[UP], r.writer, r.state, r.client, r.mapping, config, r.clock.sleep)
        lane.lease = lease
        await r.state.record(UP, {("A", "wh-1"): Pending(1, 7)})
        task = asyncio.create_task(lane.run())
        try:

            async def pushed() -> bool:
                assert not task.done(), task  # the lane died
                return (await r.inventory(UP)) == {"A": 7}

            await await_for("the pending change pushed", pushed, timeout_s=10)
        finally:
            lane.stop()
            await asyncio.wait_for(task, 5)
        assert lease.checks > 3
        assert await r.state.pending(UP) == {}


class UnansweredLease:
    """No node of a Redis Cluster answers its release (not a RedisError, ADR 0029)."""

    def __init__(self) -> None:
        self.releases = 0

    async def release(self) -> None:
        self.releases += 1
        raise cluster_unreachable()


class StoppedLane:
    def __init__(self) -> None:
        self.lease = UnansweredLease()

    def stop(self) -> None:
        return None


async def test_stopping_releases_every_lease_though_no_cluster_node_answers() -> None:
    stopped = {shop: StoppedLane() for shop in (DOWN, UP)}
    await Lanes(lanes=stopped).stop()  # type: ignore[arg-type]
    assert [lane.lease.releases for lane in stopped.values()] == [1, 1]


async def test_only_a_round_that_wrote_makes_the_lane_busy_enough_to_coalesce() -> None:
    """The lane looks for work every poll_s: a look that found nothing must not count as
    load, or every single sale on an idle system waits out the coalescing window."""
    async with rig([store(UP, "plus")]) as r:
        await r.seed(UP, {"A": 1})
        config = LaneConfig(window_s=0.005, busy_s=60.0, discover=False)
        lane = Lane(r.stores[UP], r.writer, r.state, r.client, r.mapping, config, r.clock.sleep)
        out = await lane.round()  # nothing pending
        assert out is not None and out.calls == 0
        assert not lane._busy()
        await r.state.record(UP, {("A", "wh-1"): Pending(1, 7)})
        out = await lane.round()
        assert out is not None and out.calls == 1
        assert lane._busy()  # a burst may follow: the next wake waits the window


async def test_a_round_waits_for_budget_before_it_reads_what_is_pending() -> None:
    """A store on a small plan with its bucket spent: the round waits for the refill first
    and reads the pending changes after, so a change recorded during the wait goes out in
    the same call instead of waiting for a second refill."""
    async with rig([store(UP, "standard")]) as r:
        await r.seed(UP, {"A": 1, "B": 1})
        await r.state.record(UP, {("A", "wh-1"): Pending(1, 5)})
        assert (await r.writer.push_pending(r.stores[UP])).applied == 1  # learns the bucket
        bucket = r.client.shop(UP).bucket
        bucket.level, bucket.at = 0.0, r.clock()  # spent: the next write waits a refill
        await r.state.record(UP, {("A", "wh-1"): Pending(2, 6)})
        plain = r.client.sleep
        waits: list[float] = []

        async def refilling(seconds: float) -> None:
            if not waits:  # a sale lands while the lane waits for budget
                await r.state.record(UP, {("B", "wh-1"): Pending(1, 9)})
            waits.append(seconds)
            await plain(seconds)

        r.client.sleep = refilling
        out = await r.writer.push_pending(r.stores[UP])
        assert waits  # it did wait for budget
        assert (out.applied, out.calls) == (2, 1)
        assert await r.inventory(UP) == {"A": 6, "B": 9}
        assert await r.state.pending(UP) == {}


async def test_the_status_keeps_the_last_round_that_did_something() -> None:
    """The lane looks every poll_s; an empty look must not hide the last real round from the
    stores page (it showed "-" for good)."""
    async with rig([store(UP, "plus")]) as r:
        await r.seed(UP, {"A": 1})
        config = LaneConfig(window_s=0.0, discover=False)
        lane = Lane(r.stores[UP], r.writer, r.state, r.client, r.mapping, config, r.clock.sleep)
        await r.state.record(UP, {("A", "wh-1"): Pending(1, 7)})
        worked = await lane.round()
        assert worked is not None and worked.applied == 1
        at = lane.last_round_at
        empty = await lane.round()
        assert empty is not None and empty.calls == 0 and empty.applied == 0
        assert lane.last is worked and lane.last_round_at == at and at is not None
