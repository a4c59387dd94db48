"""Multi-variant products and removed metafields, parent to children, against the Shopify
simulator (in process, schema-validated): two options and four variants reach both children
with every SKU and price, a variant added or removed in the parent follows, the SKU mapping
holds every variant, a metafield deleted in the parent is deleted in the children, and a
failed update deletes the metafield it had just created."""

from __future__ import annotations

from typing import Any

import pytest
from unit.shopify_sync.test_propagation import Net, network

from shopify_sync.adapters.documents import METAFIELDS_DELETE, PRODUCT_SET
from shopify_sync.adapters.shopify import ShopifyError

COMBOS = [("S", "Red", "20.00"), ("S", "Blue", "21.00"), ("M", "Red", "22.00"),
          ("M", "Blue", "23.00")]  # fmt: skip
FABRIC = {"namespace": "catalog", "key": "fabric", "type": "single_line_text_field",
          "value": "cotton"}  # fmt: skip
CARE = dict(FABRIC, key="care", value="cold wash")


def variant(size: str, color: str, price: str) -> dict[str, Any]:
    return {
        "optionValues": [{"optionName": "Size", "name": size},
                         {"optionName": "Color", "name": color}],
        "price": price,
        "inventoryItem": {"sku": f"TEE-{size}-{color}"},
    }  # fmt: skip


async def parent_set(
    net: Net, combos: list[tuple[str, str, str]], metafields: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    """The merchant's edit in the parent's admin: the product with exactly these variants;
    the products/update body Shopify would send."""
    sizes = list(dict.fromkeys(c[0] for c in combos))
    colors = list(dict.fromkeys(c[1] for c in combos))
    data: dict[str, Any] = {
        "handle": "tee", "title": "Tee", "vendor": "Acme",
        "productOptions": [
            {"name": "Size", "values": [{"name": s} for s in sizes]},
            {"name": "Color", "values": [{"name": c} for c in colors]},
        ],
        "variants": [variant(*c) for c in combos],
    }  # fmt: skip
    if metafields is not None:
        data["metafields"] = metafields
    parent = net.rig.stores[net.parent]
    out = await net.rig.client.execute(
        parent, PRODUCT_SET, {"identifier": {"handle": "tee"}, "input": data},
        operation="ProductSetSync", cost=10,
    )  # fmt: skip
    assert out["productSet"]["userErrors"] == [], out
    return await net.body(net.parent, f"TEE-{combos[0][0]}-{combos[0][1]}")


def shown(body: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    return [(v["sku"], v["option1"], v["option2"], v["price"]) for v in body["variants"]]


def expected(combos: list[tuple[str, str, str]]) -> list[tuple[str, str, str, str]]:
    return [(f"TEE-{s}-{c}", s, c, p) for s, c, p in combos]


async def test_two_options_and_four_variants_reach_both_children() -> None:
    async with network() as net:
        body = await parent_set(net, COMBOS)
        assert [o["name"] for o in body["options"]] == ["Size", "Color"]
        parent = net.rig.stores[net.parent]
        assert await net.propagator.on_webhook(parent, "products/create", body) == "propagated"
        for child in (net.child_a, net.child_b):  # child A keeps prices, but not at creation
            got = await net.body(child, "TEE-S-Red")
            assert shown(got) == expected(COMBOS)
            assert [(o["name"], o["values"]) for o in got["options"]] == [
                ("Size", ["S", "M"]),
                ("Color", ["Red", "Blue"]),
            ]
            stock = await net.rig.inventory(child)
            assert {sku: stock.get(sku) for sku, *_ in expected(COMBOS)} == dict.fromkeys(
                [sku for sku, *_ in expected(COMBOS)], 0
            )
            # The child's products/create webhook maps every variant to its own item.
            store = net.rig.stores[child]
            await net.rig.mapping.apply_webhook(store, "products/create", got)
            mapped = await net.rig.catalog.entries(child, [s for s, *_ in expected(COMBOS)])
            assert len(mapped) == 4
            assert len({e.item_id for e in mapped.values()}) == 4


async def test_a_variant_added_and_one_removed_follow_in_the_children() -> None:
    async with network() as net:
        parent = net.rig.stores[net.parent]
        await net.propagator.on_webhook(parent, "products/create", await parent_set(net, COMBOS))
        child_b = net.rig.stores[net.child_b]
        before = await net.body(net.child_b, "TEE-S-Red")
        await net.rig.mapping.apply_webhook(child_b, "products/create", before)
        edited = [*COMBOS[:3], ("L", "Red", "24.00")]  # M/Blue removed, L/Red added
        body = await parent_set(net, edited)
        assert await net.propagator.on_webhook(parent, "products/update", body) == "propagated"
        for child in (net.child_a, net.child_b):
            assert shown(await net.body(child, "TEE-S-Red")) == expected(edited)
            stock = await net.rig.inventory(child)
            assert "TEE-M-Blue" not in stock  # its inventory item went with it
            assert stock["TEE-L-Red"] == 0  # stocked where the child sells, truth follows
        after = await net.body(net.child_b, "TEE-S-Red")
        kept = {v["sku"]: v["inventory_item_id"] for v in before["variants"]}
        assert all(kept[v["sku"]] == v["inventory_item_id"] for v in after["variants"][:3])
        await net.rig.mapping.apply_webhook(child_b, "products/update", after)
        mapped = await net.rig.catalog.entries(net.child_b, [s for s, *_ in expected(COMBOS)])
        assert "TEE-M-Blue" not in mapped  # a removed variant is unmapped
        assert set(mapped) == {"TEE-S-Red", "TEE-S-Blue", "TEE-M-Red"}
        assert (await net.rig.catalog.entries(net.child_b, ["TEE-L-Red"])).keys() == {"TEE-L-Red"}


async def delete_in_parent(net: Net, key: str) -> None:
    body = await net.body(net.parent, "TEE-S-Red")
    out = await net.rig.client.execute(
        net.rig.stores[net.parent], METAFIELDS_DELETE,
        {"metafields": [{"ownerId": body["admin_graphql_api_id"], "namespace": "catalog",
                         "key": key}]},
        operation="MetafieldsDeleteSync", cost=10,
    )  # fmt: skip
    assert out["metafieldsDelete"]["deletedMetafields"][0]["key"] == key


async def test_a_metafield_deleted_in_the_parent_is_deleted_in_the_children() -> None:
    async with network() as net:
        parent = net.rig.stores[net.parent]
        body = await parent_set(net, COMBOS, [FABRIC, CARE])
        await net.propagator.on_webhook(parent, "products/create", body)
        for child in (net.child_a, net.child_b):
            assert await net.metafields(child, "TEE-S-Red") == {
                "fabric": "cotton",
                "care": "cold wash",
            }
        await delete_in_parent(net, "care")
        body = await net.body(net.parent, "TEE-S-Red")
        assert await net.propagator.on_webhook(parent, "products/update", body) == "propagated"
        for child in (net.child_a, net.child_b):
            assert await net.metafields(child, "TEE-S-Red") == {"fabric": "cotton"}


async def test_failed_update_deletes_the_metafield_it_created() -> None:
    async with network() as net:
        parent = net.rig.stores[net.parent]
        await net.propagator.on_webhook(
            parent, "products/create", await parent_set(net, COMBOS, [FABRIC, CARE])
        )
        # The parent drops "care" and gains "origin": set, then delete, which fails.
        origin = dict(FABRIC, key="origin", value="Portugal")
        await parent_set(net, COMBOS[:2], [origin])
        await delete_in_parent(net, "care")
        await net.rig.faults(
            net.child_b, fail_mutations=["metafieldsDelete"], fail_mutation_times=1
        )
        body = await net.body(net.parent, "TEE-S-Red")
        with pytest.raises(ShopifyError):
            await net.propagator.on_webhook(parent, "products/update", body)
        # Child B is as before: "origin" (created by the failed sync) deleted, "care" kept,
        # the two variants the sync removed are back.
        assert await net.metafields(net.child_b, "TEE-S-Red") == {
            "fabric": "cotton",
            "care": "cold wash",
        }
        assert shown(await net.body(net.child_b, "TEE-S-Red")) == expected(COMBOS)
        assert net.state.journals.get(net.child_b, {}) == {}
        # Child A completed.
        assert await net.metafields(net.child_a, "TEE-S-Red") == {
            "fabric": "cotton",
            "origin": "Portugal",
        }
        assert shown(await net.body(net.child_a, "TEE-S-Red")) == expected(COMBOS[:2])
