"""Big products through catalog propagation on the real Kafka and Redis and the Shopify
simulator (issue #23, item 3): a parent product of 600 variants, 25 images and 60 metafields
goes through the webhook topic and ``catalog.v1`` to two children whole, read page by page by
cursor and written in calls Shopify accepts; a product of 2,048 variants (Shopify's limit)
reaches them too and an edit of its last variant follows. Variants without a SKU (Shopify
allows them) propagate, and catalog discovery, paginated or bulk, maps the rest and reports
them.

The 2,048-variant product is handed to the propagator directly, with the two fields a parent
webhook is read for (its id and ``updated_at``): its full ``products/create`` body (about
1.1 MB in the simulator's REST shape) is larger than a Kafka record may be (1 MiB), which
webhook-receiver refuses with 413 (a limit recorded in ADR 0011, not lifted here).

A product whose ``productSet`` costs more than a child's cut bucket holds is dead-lettered
while the cut lasts and replayed by the automatic replayer once the child's limits are back
(ADR 0035 §4): the child gets it without an operator."""

from __future__ import annotations

import math
import uuid
from typing import Any

import pytest
from integration.shopify_sync.conftest import Sync, SyncFactory
from integration.shopify_sync.test_catalog_topic import body_of, publish

from shopify_sync.adapters.documents import PRODUCT_SET, product_set_cost
from stocksync_common.dlq.admin import DlqAdmin
from stocksync_common.redis_client import connect
from stocksync_common.topics import dlq_topic
from support.poll import await_for

pytestmark = pytest.mark.integration
ROLES = [{"role": "parent"}, {"role": "child"}, {"role": "child"}]
PLANS = ["plus", "standard", "standard"]
SIZES = [f"S{i:02d}" for i in range(32)]
COLORS = [f"C{i:02d}" for i in range(64)]  # 32 x 64 = 2,048 variants


def variant(size: str, color: str, price: str, sku: str | None) -> dict[str, Any]:
    item = {"sku": sku} if sku else {}
    return {
        "optionValues": [{"optionName": "Size", "name": size},
                         {"optionName": "Color", "name": color}],
        "price": price, "inventoryItem": item,
    }  # fmt: skip


def product_input(handle: str, variants: list[dict[str, Any]], **more: Any) -> dict[str, Any]:
    sizes = list(dict.fromkeys(v["optionValues"][0]["name"] for v in variants))
    colors = list(dict.fromkeys(v["optionValues"][1]["name"] for v in variants))
    return {
        "handle": handle, "title": handle.title(),
        "productOptions": [
            {"name": "Size", "values": [{"name": s} for s in sizes]},
            {"name": "Color", "values": [{"name": c} for c in colors]},
        ],
        "variants": variants, **more,
    }  # fmt: skip


async def parent_set(s: Sync, data: dict[str, Any]) -> None:
    """The merchant's edit in the parent's admin."""
    parent = s.container.stores.by_shop(s.shops[0])
    assert parent is not None
    out = await s.container.client.execute(
        parent, PRODUCT_SET, {"identifier": {"handle": data["handle"]}, "input": data},
        operation="ProductSetSync", cost=10 + 0.2 * len(data["variants"]),
    )  # fmt: skip
    assert out["productSet"]["userErrors"] == [], out


def shown(body: dict[str, Any] | None) -> list[tuple[str, str, str, str]]:
    return [
        (v["sku"], v["option1"], v["option2"], v["price"]) for v in (body or {}).get("variants", [])
    ]


async def whole(s: Sync, shop: str, handle: str) -> dict[str, Any]:
    """The product as the propagator reads it (every page)."""
    assert s.container.propagator is not None
    store = s.container.stores.by_shop(shop)
    assert store is not None
    node = await s.container.propagator.read(store, {"handle": handle}, "catalog")
    assert node is not None
    return node


async def operations(s: Sync, shop: str, name: str) -> list[dict[str, Any]]:
    r = await s.sim.get("/_sim/requests", params={"shop": shop, "operation_name": name})
    assert r.status_code == 200
    requests: list[dict[str, Any]] = r.json()
    return requests


def big(run: str, sizes: list[str], colors: list[str], price: str = "20.00") -> tuple[
    dict[tuple[str, str], str], list[dict[str, Any]]
]:  # fmt: skip
    sku = {(z, c): f"BIG-{run}-{z}-{c}" for z in sizes for c in colors}
    return sku, [variant(z, c, price, sku[(z, c)]) for z in sizes for c in colors]


async def assert_whole(
    s: Sync, shop: str, handle: str, variants: int, images: list[str], metafields: int
) -> None:
    node = await whole(s, shop, handle)
    assert len(node["variants"]["nodes"]) == variants
    assert [m["image"]["url"] for m in node["media"]["nodes"]] == images
    keys = sorted(m["key"] for m in node["metafields"]["nodes"])
    assert keys == [f"k{i:02d}" for i in range(metafields)]


async def test_a_product_of_600_variants_images_and_metafields_flows_to_both_children(
    sync_stack: SyncFactory,
) -> None:
    async with sync_stack(PLANS, store_extra=ROLES) as s:
        parent, *children = s.shops
        run = uuid.uuid4().hex[:6].upper()
        sku, variants = big(run, SIZES[:20], COLORS[:30])
        images = [f"https://img.test/{run}/{i}.png" for i in range(25)]
        files = [{"originalSource": url, "contentType": "IMAGE"} for url in images]
        metafields = [{"namespace": "catalog", "key": f"k{i:02d}", "type": "single_line_text_field",
                       "value": f"v{i}"} for i in range(60)]  # fmt: skip
        handle = f"big-{run.lower()}"
        await parent_set(s, product_input(handle, variants, files=files, metafields=metafields))
        first = sku[(SIZES[0], COLORS[0])]
        await publish(s, "products/create", first)
        want = [(k, z, c, "20.00") for (z, c), k in sku.items()]

        async def propagated() -> bool:
            return all([shown(await body_of(s, c, first)) == want for c in children])

        await await_for("600 variants in both children", propagated, 120)
        for child in children:  # the metafields follow the productSet, 25 a call

            async def synced(shop: str = child) -> bool:
                return not await s.container.redis.hgetall(f"sync:catalog-journal:{{{shop}}}")

            await await_for(f"{child} synced (its journal closed)", synced, 60)
            await assert_whole(s, child, handle, 600, images, 60)
            # every write fits what Shopify takes: at most 25 metafields a metafieldsSet
            sets = await operations(s, child, "MetafieldsSetSync")
            assert sorted(len(r["variables"]["metafields"]) for r in sets) == [10, 25, 25]
        pages = await operations(s, parent, "ProductVariantsPage")
        assert pages, "the parent's variants were not read page by page"
        assert all(r["variables"]["first"] <= 250 for r in pages)
        assert await operations(s, parent, "ProductMediaPage") == []  # 25 fit the first page


async def test_a_product_of_2048_variants_reaches_both_children_and_follows_an_edit(
    sync_stack: SyncFactory,
) -> None:
    async with sync_stack(PLANS, store_extra=ROLES) as s:
        parent, *children = s.shops
        run = uuid.uuid4().hex[:6].upper()
        sku, variants = big(run, SIZES, COLORS)
        handle = f"big-{run.lower()}"
        await parent_set(s, product_input(handle, variants))
        body = await body_of(s, parent, sku[(SIZES[0], COLORS[0])])
        assert body is not None
        hint = {"admin_graphql_api_id": body["admin_graphql_api_id"]}
        propagator, store = s.container.propagator, s.container.stores.by_shop(parent)
        assert propagator is not None and store is not None
        assert await propagator.on_webhook(store, "products/create", hint) == "propagated"
        want = [(k, z, c, "20.00") for (z, c), k in sku.items()]
        for child in children:
            assert shown(await body_of(s, child, sku[(SIZES[0], COLORS[0])])) == want
            await assert_whole(s, child, handle, 2048, [], 0)

        last = (SIZES[-1], COLORS[-1])  # an edit far past the first pages
        variants[-1] = variant(*last, "99.00", sku[last])
        await parent_set(s, product_input(handle, variants))
        assert await propagator.on_webhook(store, "products/update", hint) == "propagated"
        want[-1] = (sku[last], *last, "99.00")
        for child in children:
            assert shown(await body_of(s, child, sku[(SIZES[0], COLORS[0])])) == want


async def test_variants_without_a_sku_propagate_and_discovery_reports_them(
    sync_stack: SyncFactory,
) -> None:
    async with sync_stack(PLANS, store_extra=ROLES) as s:
        parent, *children = s.shops
        run = uuid.uuid4().hex[:6].upper()
        skus = [f"NOSKU-{run}-A", None, f"NOSKU-{run}-C"]
        colors = ("Red", "Blue", "Green")
        variants = [variant("M", c, "10.00", k) for c, k in zip(colors, skus, strict=True)]
        handle = f"nosku-{run.lower()}"
        await parent_set(s, product_input(handle, variants))
        await publish(s, "products/create", f"NOSKU-{run}-A")

        async def propagated() -> bool:
            bodies = [await body_of(s, c, f"NOSKU-{run}-A") for c in children]
            return all([v[0] for v in shown(b)] == [skus[0], "", skus[2]] for b in bodies)

        await await_for("three variants, one without a SKU, in both children", propagated, 60)

        store = s.container.stores.by_shop(parent)
        assert store is not None
        no_sku = next(
            n["id"] for n in (await whole(s, parent, handle))["variants"]["nodes"] if not n["sku"]
        )
        for threshold, method in ((500, "paginated"), (0, "bulk")):
            s.container.mapping.bulk_threshold = threshold
            summary = await s.container.mapping.discover(store)
            assert (summary["method"], summary["skus"]) == (method, 2)
            meta = await s.container.catalog.meta(parent)
            assert meta["problems"]["blank_variants"] == [no_sku]
            mapped = await s.container.catalog.entries(parent, [k for k in skus if k])
            assert sorted(mapped) == sorted(k for k in skus if k)


async def test_a_product_above_a_cut_bucket_reaches_the_child_once_its_limits_are_back(
    sync_stack: SyncFactory, kafka_bootstrap: str, redis_url: str
) -> None:
    """The headline defect of #23's round: a store with reduced API limits was never synced.
    4 variants and 20 images: a ``productSet`` of about 49 points, above a 40-point bucket
    (what the child's reads need still fits it, page by page)."""
    fast = (0.2, 0.2, 0.2, 0.2)  # the retries run out in about a second
    async with sync_stack(PLANS[:2], store_extra=ROLES[:2], propagation_retry_s=fast) as s:
        parent, child = s.shops
        run = uuid.uuid4().hex[:6].upper()
        sku, variants = big(run, SIZES[:2], COLORS[:2])
        images = [f"https://img.test/{run}/{i}.png" for i in range(20)]
        files = [{"originalSource": url, "contentType": "IMAGE"} for url in images]
        handle = f"cut-{run.lower()}"
        await parent_set(s, product_input(handle, variants, files=files))
        first = sku[(SIZES[0], COLORS[0])]
        await publish(s, "products/create", first)
        want = [(k, z, c, "20.00") for (z, c), k in sku.items()]

        async def child_shows() -> bool:
            return shown(await body_of(s, child, first)) == want

        await await_for("the product in the child", child_shows, 60)
        cost = product_set_cost(len(variants), 0, len(images))
        assert cost > 40
        r = await s.sim.put(
            f"/_sim/stores/{child}/limits", json={"restore_rate": 40, "maximum_available": 40}
        )
        assert r.status_code == 200, r.text

        # the merchant edits the product in the parent while the child's limits are cut
        last = (SIZES[1], COLORS[1])
        variants[-1] = variant(*last, "99.00", sku[last])
        await parent_set(s, product_input(handle, variants, files=files))
        await publish(s, "products/update", first)
        group = s.settings.propagation_consumer_group
        dlq = dlq_topic(s.settings.catalog_topic, group)
        redis = connect(redis_url)
        admin = DlqAdmin(kafka_bootstrap, redis, {group: [s.settings.catalog_topic]})
        try:

            async def dead_lettered() -> Any:
                recs = await admin.records(dlq)
                return recs or None

            [rec] = await await_for("the edit in the propagation DLQ", dead_lettered, 90)
            assert shown(await body_of(s, child, first)) == want  # not half written
            r = await s.sim.delete(f"/_sim/stores/{child}/limits")
            assert r.status_code == 200, r.text
            want[-1] = (sku[last], *last, "99.00")
            await await_for("the edit in the child, no one replaying it", child_shows, 60)
            assert rec.reason == f"dependency:shopify-bucket:{child}:{math.ceil(cost)}", rec.body
            replayed = await admin.get(rec.id)
            assert replayed is not None and replayed.status == "replayed"
        finally:
            await admin.close()
            await redis.aclose()
