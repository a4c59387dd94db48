"""Parent-to-child propagation against the Shopify simulator (in process, schema-validated):
parent precedence with child-owned fields, echo and drift of child webhooks, stale
webhooks, compensating rollback on an injected failure, recovery of a crash journal, and a
write above a child's cut bucket left unsent until the bucket holds it."""

from __future__ import annotations

import math
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from unit.shopify_sync.harness import LOC_GID, Rig, rig, store

from shopify_sync.adapters.documents import product_set_cost
from shopify_sync.adapters.shopify import ShopifyError
from shopify_sync.catalog_gate import CatalogGate
from shopify_sync.cut_bucket import AboveCutBucket, BucketHolds, fits_some_bucket
from shopify_sync.propagator import Propagator
from stocksync_common.retry import classify
from stocksync_common.stores import StoresConfig

URL = "https://cdn.example.test/shirt.png"


@dataclass
class MemoryPropagation:
    journals: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    wrote_: dict[tuple[str, str], str] = field(default_factory=dict)
    applied: dict[tuple[str, str], str] = field(default_factory=dict)
    handles: dict[tuple[str, str], str] = field(default_factory=dict)

    async def journal_put(self, shop: str, handle: str, entry: dict[str, Any]) -> None:
        self.journals.setdefault(shop, {})[handle] = dict(entry, steps=list(entry["steps"]))

    async def journal_done(self, shop: str, handle: str) -> None:
        self.journals.get(shop, {}).pop(handle, None)

    async def journal_open(self, shop: str) -> dict[str, dict[str, Any]]:
        return dict(self.journals.get(shop, {}))

    async def wrote(self, shop: str, handle: str) -> str | None:
        return self.wrote_.get((shop, handle))

    async def set_wrote(self, shop: str, handle: str, fingerprint: str) -> None:
        self.wrote_[(shop, handle)] = fingerprint

    async def applied_at(self, shop: str, product_id: str) -> str | None:
        return self.applied.get((shop, product_id))

    async def set_applied_at(self, shop: str, product_id: str, updated_at: str) -> None:
        self.applied[(shop, product_id)] = updated_at

    async def handle_of(self, shop: str, product_id: str) -> str | None:
        return self.handles.get((shop, product_id))

    async def set_handle(self, shop: str, product_id: str, handle: str) -> None:
        self.handles[(shop, product_id)] = handle

    async def recorded_handles(self, shop: str) -> dict[str, str]:
        return {pid: h for (s, pid), h in self.handles.items() if s == shop}

    async def forget_handle(self, shop: str, product_id: str) -> None:
        self.handles.pop((shop, product_id), None)


@dataclass
class Net:
    rig: Rig
    propagator: Propagator
    state: MemoryPropagation
    parent: str
    child_a: str  # keeps price and tags for itself
    child_b: str

    async def seed(self, shop: str, sku: str, price: str = "20.00", **catalog: Any) -> None:
        body = [{"sku": sku, "price": price, "quantities": {LOC_GID: 5}, "catalog": catalog}]
        r = await self.rig.http.post(f"/_sim/stores/{shop}/products", json=body)
        assert r.status_code == 201, r.text

    async def body(self, shop: str, sku: str) -> dict[str, Any]:
        r = await self.rig.http.get(f"/_sim/stores/{shop}/products/{sku}/payload")
        assert r.status_code == 200, r.text
        doc: dict[str, Any] = r.json()
        return doc

    async def has(self, shop: str, sku: str) -> bool:
        r = await self.rig.http.get(f"/_sim/stores/{shop}/products/{sku}/payload")
        return r.status_code == 200

    async def metafields(self, shop: str, sku: str) -> dict[str, str]:
        product = await self.body(shop, sku)
        node = await self.propagator.read(
            self.rig.stores[shop], {"handle": product["handle"]}, "catalog"
        )
        assert node is not None
        return {m["key"]: m["value"] for m in node["metafields"]["nodes"]}

    async def parent_edit(self, topic: str = "products/update") -> str:
        return await self.propagator.on_webhook(
            self.rig.stores[self.parent], topic, await self.body(self.parent, "SHIRT-1")
        )


@asynccontextmanager
async def network() -> AsyncIterator[Net]:
    run = uuid.uuid4().hex[:6]
    parent, a, b = (f"{name}-{run}.myshopify.com" for name in ("parent", "child-a", "child-b"))
    stores = [
        store(parent, "plus", role="parent"),
        store(a, "standard", role="child", child_owned_fields=["price", "tags"]),
        store(b, "standard", role="child"),
    ]
    async with rig(stores) as r:
        config = StoresConfig(stores=list(r.stores.values()))
        state = MemoryPropagation()
        gate = CatalogGate(r.state, sleep=r.clock.sleep, clock=r.clock)
        yield Net(r, Propagator(config, r.client, state, gate), state, parent, a, b)


SHIRT: dict[str, Any] = {
    "title": "Shirt",
    "vendor": "Acme",
    "tags": ["summer"],
    "files": [{"originalSource": URL}],
    "metafields": [
        {"namespace": "catalog", "key": "fabric", "type": "single_line_text_field",
         "value": "cotton"},
    ],
}  # fmt: skip


async def test_a_new_parent_product_reaches_both_children_whole() -> None:
    async with network() as net:
        await net.seed(net.parent, "SHIRT-1", **SHIRT)
        assert await net.parent_edit("products/create") == "propagated"
        for child in (net.child_a, net.child_b):
            body = await net.body(child, "SHIRT-1")
            assert (body["title"], body["vendor"], body["tags"]) == ("Shirt", "Acme", "summer")
            assert [i["src"] for i in body["images"]] == [URL]
            assert body["variants"][0]["price"] == "20.00"
            assert await net.metafields(child, "SHIRT-1") == {"fabric": "cotton"}
            assert await net.rig.inventory(child) == {"SHIRT-1": 0}  # stocked, truth follows
        assert net.state.journals.get(net.child_a, {}) == {}


async def test_parent_edit_keeps_child_owned_fields() -> None:
    async with network() as net:
        await net.seed(net.parent, "SHIRT-1", **SHIRT)
        await net.parent_edit("products/create")
        await net.seed(net.child_a, "SHIRT-1", price="25.00", tags=["local"])  # child's own
        await net.seed(net.parent, "SHIRT-1", price="30.00", title="Shirt v2", tags=["autumn"])
        assert await net.parent_edit() == "propagated"
        a, b = await net.body(net.child_a, "SHIRT-1"), await net.body(net.child_b, "SHIRT-1")
        assert (a["title"], a["variants"][0]["price"], a["tags"]) == ("Shirt v2", "25.00", "local")
        assert (b["title"], b["variants"][0]["price"], b["tags"]) == ("Shirt v2", "30.00", "autumn")


async def test_our_own_echo_is_dropped_and_child_drift_is_overwritten() -> None:
    async with network() as net:
        await net.seed(net.parent, "SHIRT-1", **SHIRT)
        await net.parent_edit("products/create")
        child = net.rig.stores[net.child_b]
        echo = await net.body(net.child_b, "SHIRT-1")
        assert await net.propagator.on_webhook(child, "products/update", echo) == "echo"
        await net.seed(net.child_b, "SHIRT-1", title="Renamed in the child")
        drift = await net.body(net.child_b, "SHIRT-1")
        reads = await requests(net, net.child_b, "ProductForSync")
        assert await net.propagator.on_webhook(child, "products/update", drift) == "reasserted"
        # the child read once: to tell a late echo from a drift, and to sync from
        assert await requests(net, net.child_b, "ProductForSync") == reads + 1
        assert (await net.body(net.child_b, "SHIRT-1"))["title"] == "Shirt"
        # A child-owned field changed in child A is the child's business: nothing to do.
        await net.seed(net.child_a, "SHIRT-1", price="99.00")
        own = await net.body(net.child_a, "SHIRT-1")
        assert (
            await net.propagator.on_webhook(net.rig.stores[net.child_a], "products/update", own)
            == "echo"
        )


async def test_the_echo_of_an_earlier_write_after_a_later_one_writes_nothing() -> None:
    """Two parent edits in quick succession: the child's webhook for the first write can
    arrive after the second was written. It shows neither what we wrote last nor the parent
    now, yet the child already shows the parent: no write (it was a third productSet)."""
    async with network() as net:
        await net.seed(net.parent, "SHIRT-1", **SHIRT)
        await net.parent_edit("products/create")
        first_echo = await net.body(net.child_b, "SHIRT-1")
        await net.seed(net.parent, "SHIRT-1", title="Shirt v2")
        assert await net.parent_edit() == "propagated"
        before = await requests(net, net.child_b, "ProductSetSync")
        child = net.rig.stores[net.child_b]
        outcome = await net.propagator.on_webhook(child, "products/update", first_echo)
        assert outcome == "stale-echo"
        assert await requests(net, net.child_b, "ProductSetSync") == before
        assert (await net.body(net.child_b, "SHIRT-1"))["title"] == "Shirt v2"


async def requests(net: Net, shop: str, operation: str) -> int:
    """How many Admin API requests of ``operation`` the store has answered."""
    r = await net.rig.http.get("/_sim/requests", params={"shop": shop, "operation_name": operation})
    assert r.status_code == 200, r.text
    return len(r.json())


async def test_stale_parent_webhook_is_ignored() -> None:
    async with network() as net:
        await net.seed(net.parent, "SHIRT-1", **SHIRT)
        old = await net.body(net.parent, "SHIRT-1")
        await net.seed(net.parent, "SHIRT-1", title="Shirt v2")
        new = await net.body(net.parent, "SHIRT-1")
        assert new["updated_at"] >= old["updated_at"]
        old["updated_at"] = "2020-01-01T00:00:00.000Z"
        parent = net.rig.stores[net.parent]
        assert await net.propagator.on_webhook(parent, "products/update", new) == "propagated"
        assert await net.propagator.on_webhook(parent, "products/update", old) == "stale"
        assert (await net.body(net.child_b, "SHIRT-1"))["title"] == "Shirt v2"


async def test_parent_delete_removes_the_product_from_children() -> None:
    async with network() as net:
        await net.seed(net.parent, "SHIRT-1", **SHIRT)
        body = await net.body(net.parent, "SHIRT-1")
        await net.parent_edit("products/create")
        parent = net.rig.stores[net.parent]
        gone = {"id": body["id"], "admin_graphql_api_id": body["admin_graphql_api_id"]}
        assert await net.propagator.on_webhook(parent, "products/delete", gone) == "deleted"
        assert not await net.has(net.child_a, "SHIRT-1")
        assert not await net.has(net.child_b, "SHIRT-1")


async def test_failure_mid_create_leaves_the_child_unchanged() -> None:
    async with network() as net:
        await net.seed(net.parent, "SHIRT-1", **SHIRT)
        await net.rig.faults(net.child_a, fail_mutations=["metafieldsSet"])
        with pytest.raises(ShopifyError):
            await net.parent_edit("products/create")
        assert not await net.has(net.child_a, "SHIRT-1")  # created, then deleted
        assert await net.metafields(net.child_b, "SHIRT-1") == {"fabric": "cotton"}
        assert net.state.journals.get(net.child_a, {}) == {}
        await net.rig.faults(net.child_a)
        assert await net.parent_edit("products/create") == "propagated"  # the retry completes
        assert await net.metafields(net.child_a, "SHIRT-1") == {"fabric": "cotton"}


async def test_failure_mid_update_restores_what_the_child_showed() -> None:
    async with network() as net:
        await net.seed(net.parent, "SHIRT-1", **SHIRT)
        await net.parent_edit("products/create")
        edit = dict(SHIRT, title="Shirt v2", vendor="Acme 2")
        edit["metafields"] = [dict(SHIRT["metafields"][0], value="linen")]
        await net.seed(net.parent, "SHIRT-1", **edit)
        await net.rig.faults(net.child_b, fail_mutations=["metafieldsSet"])
        with pytest.raises(ShopifyError):
            await net.parent_edit()
        b = await net.body(net.child_b, "SHIRT-1")
        assert (b["title"], b["vendor"]) == ("Shirt", "Acme")  # productSet undone
        assert await net.metafields(net.child_b, "SHIRT-1") == {"fabric": "cotton"}
        a = await net.body(net.child_a, "SHIRT-1")
        assert (a["title"], a["vendor"]) == ("Shirt v2", "Acme 2")  # completed
        assert await net.metafields(net.child_a, "SHIRT-1") == {"fabric": "linen"}


async def test_recover_rolls_back_a_crash_leftover_and_redoes_the_sync() -> None:
    async with network() as net:
        await net.seed(net.parent, "SHIRT-1", **SHIRT)
        parent_body = await net.body(net.parent, "SHIRT-1")
        # A crash right after productSet created the product, before its metafields.
        await net.seed(net.child_a, "SHIRT-1", title="half")
        net.state.journals[net.child_a] = {
            "shirt-1": {"op": "x", "handle": "shirt-1", "created": True, "snapshot": None,
                        "steps": ["product_set"],
                        "parent_product": parent_body["admin_graphql_api_id"]},
        }  # fmt: skip
        assert await net.propagator.recover() == 1
        assert (await net.body(net.child_a, "SHIRT-1"))["title"] == "Shirt"
        assert await net.metafields(net.child_a, "SHIRT-1") == {"fabric": "cotton"}
        assert net.state.journals[net.child_a] == {}


async def test_an_edit_above_a_cut_bucket_waits_for_the_bucket_unsent_and_unrolled() -> None:
    """ADR 0035 §4: a productSet that costs more than the child's cut bucket is refused
    unsent, nothing is rolled back, and the failure names the store and the points, so the
    DLQ replayer sends it back once ``BucketHolds`` finds the bucket big enough again."""
    async with network() as net:
        files = [{"originalSource": f"https://cdn.example.test/{i}.png"} for i in range(25)]
        await net.seed(net.parent, "SHIRT-1", **dict(SHIRT, files=files))
        await net.parent_edit("products/create")
        b = net.child_b
        r = await net.rig.http.put(
            f"/_sim/stores/{b}/limits", json={"restore_rate": 40, "maximum_available": 40}
        )
        assert r.status_code == 200, r.text
        await net.seed(net.parent, "SHIRT-1", **dict(SHIRT, files=files, title="Shirt v2"))
        sets = await requests(net, b, "ProductSetSync")
        with pytest.raises(AboveCutBucket) as raised:
            await net.parent_edit()
        points = math.ceil(product_set_cost(1, 0, 25))  # 58
        assert classify(raised.value) == f"dependency:shopify-bucket:{b}:{points}"
        assert await requests(net, b, "ProductSetSync") == sets  # nothing sent, no restore
        assert (await net.body(b, "SHIRT-1"))["title"] == "Shirt"
        assert net.state.journals.get(b, {}) == {}
        assert (await net.body(net.child_a, "SHIRT-1"))["title"] == "Shirt v2"
        reads = await requests(net, b, "ProductForSync")
        with pytest.raises(AboveCutBucket):  # the cut is known now: the child is not read
            await net.parent_edit()
        assert await requests(net, b, "ProductForSync") == reads

        config = StoresConfig(stores=list(net.rig.stores.values()))
        holds = BucketHolds(net.rig.client, config, clock=net.rig.clock, probe_every_s=2.0)
        probes = await requests(net, b, "ShopProbe")
        assert await holds(f"{b}:{points}") is False
        assert await requests(net, b, "ShopProbe") == probes + 1
        r = await net.rig.http.delete(f"/_sim/stores/{b}/limits")
        assert r.status_code == 200, r.text
        assert await holds(f"{b}:{points}") is False  # not probed again within 2 s
        assert await requests(net, b, "ShopProbe") == probes + 1
        net.rig.clock.now += 2.0
        assert await holds(f"{b}:{points}") is True  # probed: the plan's bucket again
        assert await holds(f"{b}:{points}") is True  # known now: no probe
        assert await requests(net, b, "ShopProbe") == probes + 2
        assert await holds("gone.myshopify.com:58") is True  # no longer configured
        assert await net.parent_edit() == "propagated"
        assert (await net.body(b, "SHIRT-1"))["title"] == "Shirt v2"


async def test_a_product_set_above_any_bucket_is_not_waited_for() -> None:
    """Above 1,000 points a productSet never fits any bucket: not a dependency to wait for."""
    assert fits_some_bucket(1000.0) and not fits_some_bucket(1000.5)
    assert classify(AboveCutBucket("s.myshopify.com", 48.2)) == (
        "dependency:shopify-bucket:s.myshopify.com:49"
    )
