"""A kit and its component in one store (ADR 0040) on the real Kafka and Redis, against the
simulator: the component's change that moves its budget from the kit's part to its direct
share arrives before the kit's lowering. The store must never be shown more of the
component, directly and through the kit, than its budget: the sync before this change raised
the component at once (3 A beside 1 kit of 2 A: 5 of 4 units)."""

from __future__ import annotations

from typing import Any

import pytest
from integration.shopify_sync.conftest import SyncFactory
from prometheus_client import REGISTRY

from stocksync_common.events import InventoryChanged, KitComponent, KitPart, Levels, StockChange
from support.poll import await_for
from support.sim_writes import quantities

pytestmark = pytest.mark.integration
UNITS, BUDGET = 2, 4  # units of A per kit; the store's budget of A (one store: all of it)


def component(
    sku: str, kit: str, shop: str, version: int, direct: int, part: int
) -> InventoryChanged:
    lv = Levels(on_hand=BUDGET, available=BUDGET)
    return InventoryChanged(
        source="test",
        payload=StockChange(
            sku=sku, location="wh-1", command="adjust", idempotency_key=f"{sku}:{version}",
            version=version, before=lv, after=lv, sku_available_before=BUDGET,
            sku_available_after=BUDGET, shares={shop: direct}, seen={shop: 0},
            kit_parts={kit: KitPart(units=UNITS, shares={shop: part})},
        ),
    )  # fmt: skip


def kit(sku: str, comp: str, shop: str, version: int, share: int, direct: int) -> InventoryChanged:
    lv = Levels(on_hand=BUDGET // UNITS, available=BUDGET // UNITS)
    split = KitComponent(
        units=UNITS,
        shares={shop: direct},
        kit_parts={sku: KitPart(units=UNITS, shares={shop: share})},
    )
    return InventoryChanged(
        source="test",
        payload=StockChange(
            sku=sku, location="wh-1", command="adjust", idempotency_key=f"{sku}:{version}",
            version=version, before=lv, after=lv, sku_available_before=BUDGET // UNITS,
            sku_available_after=BUDGET // UNITS, shares={shop: share}, seen={shop: 0},
            kit_components={comp: split},
        ),
    )  # fmt: skip


async def test_a_components_raise_waits_for_its_kits_lowering(sync_stack: SyncFactory) -> None:
    async with sync_stack(["plus"]) as s:
        (shop,) = s.shops
        a, k = f"KGA-{shop[3:11]}", f"KGK-{shop[3:11]}"

        async def applied(sku: str, version: int) -> bool:
            known = await s.container.state.known(shop, [(sku, "wh-1")])
            return bool(known[(sku, "wh-1")].applied >= version)

        async def both(version: int) -> bool:
            return await applied(a, version) and await applied(k, version)

        def held() -> float:
            n = REGISTRY.get_sample_value("stocksync_shopify_raises_held_total", {"shop": shop})
            return n or 0.0

        await s.seed(shop, {a: 1, k: 1})  # 1 A and 1 kit (2 A): the budget of 4
        await s.publish_changes([component(a, k, shop, 1, 1, 1), kit(k, a, shop, 1, 1, 1)])
        await await_for("version 1 applied", lambda: both(1), 30)
        before = held()

        # A's budget moves from the kit's part to its direct share; the kit's change later
        await s.publish_changes([component(a, k, shop, 2, 3, 0)])

        async def met() -> bool:  # the sync met A's change: held it, or (before) wrote it
            return held() > before or await applied(a, 2)

        await await_for("A's change met", met, 30)
        await s.publish_changes([kit(k, a, shop, 2, 0, 3)])
        await await_for("both applied", lambda: both(2), 30)

        writes: list[dict[str, Any]] = (await s.sim.get("/_sim/storefront/writes")).json()
        shown = {a: 1, k: 1}
        for q in quantities(writes, {a, k}):
            if q["outcome"] != "applied":
                continue
            shown[q["sku"]] = q["quantity"]
            load = shown[a] + UNITS * shown[k]
            assert load <= BUDGET, f"after {q['sku']}={q['quantity']}: {shown}, {load} of A"
        assert shown == {a: 3, k: 0}  # and the whole budget on sale directly
        assert (await s.inventory(shop)) == {a: 3, k: 0}
        await s.assert_compare_and_set()
